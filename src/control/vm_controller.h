// What a controller may ask of a running VM: the one interface the per-VM
// control socket calls today, and the daemon and live migration will call
// tomorrow (migrate and balloon targets go here when they exist). vmm/
// implements it over a Machine (vmm/machine_controller.h).
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace vmhive::control {

enum class VmState { kRunning, kPaused, kStopping };
const char* state_name(VmState state);  // "running", "paused", "stopping"

struct VmStatus {
  VmState state = VmState::kRunning;
};

// Where a snapshot's time went, and what it wrote.
struct SnapshotReport {
  double pause_ms = 0;    // until every vCPU and the device thread were parked
  double capture_ms = 0;  // vCPU, VM and device state (and disk copies)
  double memory_ms = 0;   // guest RAM to the memory file
  double state_ms = 0;    // the state file
  double total_ms = 0;
  uint64_t memory_bytes_written = 0;
  size_t state_bytes = 0;
};

class VmController {
 public:
  virtual ~VmController() = default;

  // Holds every vCPU (and the devices) until resume(); pausing a paused VM
  // is not an error.
  virtual Result<void> pause() = 0;
  virtual Result<void> resume() = 0;
  // Writes a snapshot of the VM to `dir` (created if missing); the VM runs
  // on afterwards if `resume`, and stops otherwise.
  virtual Result<SnapshotReport> snapshot(const std::string& dir, bool resume) = 0;
  // Ends the VM (its process exits with status 0).
  virtual void stop() = 0;
  virtual VmStatus status() const = 0;
};

}  // namespace vmhive::control
