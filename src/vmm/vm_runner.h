// Runs a built Machine to its end on the calling thread: termination
// signals, console input from stdin (raw terminal, Ctrl-A x), and the
// control socket, whose requests go to the machine's controller.
#pragma once

#include <functional>
#include <string>

#include "vmm/machine.h"
#include "vmm/vm_outcome.h"

namespace vmhive {

struct RunnerOptions {
  std::string control_socket;       // empty: none (control/control_request.h)
  std::function<void()> on_running;  // once every vCPU thread has started (a clone server times start-up by it)
};

// The outcome says how the VM ended; a VMM failure while running is an
// outcome (kVmmError), not an error.
VmOutcome run_machine(Machine& machine, const RunnerOptions& options);

}  // namespace vmhive
