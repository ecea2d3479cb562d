#include "vmm/pause_gate.h"

namespace vmhive {

void PauseGate::request_pause() {
  std::lock_guard lock(mutex_);
  pause_requested_ = true;
}

bool PauseGate::pause_requested() const {
  std::lock_guard lock(mutex_);
  return pause_requested_ && !shut_down_;
}

void PauseGate::park() {
  std::unique_lock lock(mutex_);
  if (!pause_requested_ || shut_down_) return;
  const uint64_t generation = generation_;
  ++parked_;
  changed_.notify_all();
  changed_.wait(lock, [&] { return generation_ != generation || shut_down_; });
  --parked_;
}

bool PauseGate::wait_until_parked(uint32_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return parked_ >= count || shut_down_; }) && !shut_down_;
}

void PauseGate::resume() {
  std::lock_guard lock(mutex_);
  pause_requested_ = false;
  ++generation_;
  changed_.notify_all();
}

void PauseGate::shutdown() {
  std::lock_guard lock(mutex_);
  shut_down_ = true;
  changed_.notify_all();
}

}  // namespace vmhive
