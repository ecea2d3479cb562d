// The VmController (control/vm_controller.h) of one Machine: pause and
// resume, snapshots written through a SnapshotDir, stop and status. Called
// on the main loop's thread.
#pragma once

#include <string>

#include "control/vm_controller.h"
#include "vmm/machine.h"

namespace vmhive {

class MachineController : public control::VmController {
 public:
  // `starts_paused`: the machine will be started paused (Machine::start), so
  // it counts as paused by request until resume().
  explicit MachineController(Machine& machine, bool starts_paused = false) : machine_(machine), paused_(starts_paused) {}

  Result<void> pause() override;
  Result<void> resume() override;
  // Pauses (unless paused already), has the machine capture its state and
  // its devices save their files, writes the memory file and then the state
  // file (a directory with a state file is complete), and resumes.
  Result<control::SnapshotReport> snapshot(const std::string& dir, bool resume) override;
  void stop() override;
  Result<void> press_ctrl_alt_del() override { return machine_.press_ctrl_alt_del(); }
  control::VmStatus status() const override;
  control::VmStats stats() const override;

 private:
  Machine& machine_;
  bool paused_;  // by a pause request
};

}  // namespace vmhive
