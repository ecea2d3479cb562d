// Decides how a VM ends: the first stop request wins (a guest power-off, a
// crash on some vCPU, a signal), wakes the main loop and every vCPU thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "common/result.h"
#include "common/unique_fd.h"
#include "vmm/vm_outcome.h"

namespace vmhive {

class StopController {
 public:
  // Not movable (other threads hold a reference): owned through a unique_ptr.
  static Result<std::unique_ptr<StopController>> create();

  // Returns true if this request decided the outcome.
  bool request_stop(VmOutcome outcome);
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  std::optional<VmOutcome> outcome() const;
  // Readable once a stop was requested (for poll()).
  int wake_fd() const { return event_fd_.get(); }
  // Called once, by the first request, to kick the vCPUs out of KVM_RUN.
  void set_on_stop(std::function<void()> on_stop) { on_stop_ = std::move(on_stop); }

 private:
  explicit StopController(UniqueFd event_fd) : event_fd_(std::move(event_fd)) {}

  UniqueFd event_fd_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::optional<VmOutcome> outcome_;
  std::function<void()> on_stop_;
};

}  // namespace vmhive
