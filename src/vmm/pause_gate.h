// Pausing every vCPU at a point where its state is complete, for snapshots.
//
// A pause is asked for before the vCPUs are kicked (immediate_exit plus a
// signal). A vCPU parks only when KVM_RUN came back interrupted: KVM finishes
// any port or MMIO access it handed to vmhive before it honours the kick, so
// what KVM_GET_* then reads is the state between two instructions.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace vmhive {

class PauseGate {
 public:
  void request_pause();
  bool pause_requested() const;
  // Called by a vCPU thread: waits until resume() or shutdown().
  void park();
  // Waits until `count` vCPUs are parked; false on timeout or shutdown.
  bool wait_until_parked(uint32_t count, std::chrono::milliseconds timeout);
  void resume();
  // Releases every parked vCPU for good (the VM is stopping).
  void shutdown();

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool pause_requested_ = false;
  bool shut_down_ = false;
  uint32_t parked_ = 0;
  uint64_t generation_ = 0;  // bumped by resume(), so a parked vCPU knows to go on
};

}  // namespace vmhive
