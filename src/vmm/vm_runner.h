// Runs a built Machine to its end on the calling thread: termination
// signals, console input from stdin (raw terminal, Ctrl-A x), and the
// control socket, whose requests go to the machine's controller. Before the
// guest runs, the process confines itself (docs/security.md).
#pragma once

#include <poll.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "confinement/jail.h"
#include "vmm/machine.h"
#include "vmm/machine_controller.h"
#include "vmm/vm_outcome.h"

namespace vmhive {

// Another server the main loop serves beside the control socket (the
// Firecracker API, vmm/api_runner.h): polled with the rest, served after
// every poll.
class LoopService {
 public:
  virtual ~LoopService() = default;
  virtual void add_poll_fds(std::vector<pollfd>& fds) const = 0;
  virtual int poll_timeout_ms() const = 0;  // -1: no deadline of its own
  virtual void serve() = 0;
};

struct RunnerOptions {
  std::string control_socket;       // empty: none (control/control_request.h)
  std::function<void()> on_running;  // once every vCPU thread has started (a clone server times start-up by it)
  // Every thread runs under its system-call allowlist (--no-seccomp: off, for
  // debugging). Capabilities are dropped and no new privileges can be
  // gained either way, once the machine's devices are open.
  bool seccomp = true;
  // Test only: once confined, the main thread makes a call no thread may
  // make (a socket), so that a test sees what a violation does.
  bool test_forbidden_call = false;
  // Once set up, the process enters this jail (confinement/jail.h); the
  // caller has already moved it into a PID namespace of its own.
  std::optional<confinement::JailConfig> jail;
  // --report-timing: one stderr line with the time confinement took (from
  // dropping privileges to the last thread's filter).
  bool report_timing = false;
  // Host CPUs for the vCPUs: vCPU i on vcpu_pins[i % n] (config/vm_config.h CpuPolicy).
  std::vector<uint32_t> vcpu_pins;
  // The machine's controller when the caller holds it too (the Firecracker
  // API); the machine starts paused if it was made paused. Null: the runner
  // makes its own.
  MachineController* controller = nullptr;
  LoopService* service = nullptr;
};

// The outcome says how the VM ended; a VMM failure while running is an
// outcome (kVmmError), not an error.
VmOutcome run_machine(Machine& machine, const RunnerOptions& options);

}  // namespace vmhive
