// What a controller may ask of a running VM: the one interface the per-VM
// control socket calls today, and the daemon and live migration will call
// tomorrow (migrate and balloon targets go here when they exist). vmm/
// implements it over a Machine (vmm/machine_controller.h).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

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

// One device's work so far (devices/virtio/virtio_device.h's DeviceTraffic):
// "in" is toward the guest (disk reads, frames received, entropy), "out"
// from it (disk writes, frames sent).
struct DeviceStats {
  std::string kind;  // "virtio-blk", "virtio-net", "virtio-rng"
  unsigned index = 0;  // among the VM's devices of its kind, in bus order
  uint64_t in_requests = 0, in_bytes = 0, out_requests = 0, out_bytes = 0, other_requests = 0, failed = 0;
};

// What a running VM has done: vCPU exits by reason, and each device's work.
// Counted since the VM process started.
struct VmStats {
  double vcpu_seconds = 0;  // host CPU time of the vCPU threads
  std::vector<std::pair<std::string, uint64_t>> exits;
  std::vector<DeviceStats> devices;
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
  // Types Ctrl-Alt-Del on the VM's keyboard: the guest decides what follows
  // (Linux reboots, and a vmhive VM ends when its guest resets).
  virtual Result<void> press_ctrl_alt_del() = 0;
  virtual VmStatus status() const = 0;
  virtual VmStats stats() const = 0;
};

}  // namespace vmhive::control
