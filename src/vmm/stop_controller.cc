#include "vmm/stop_controller.h"
#include "common/errno_error.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vmhive {

Result<std::unique_ptr<StopController>> StopController::create() {
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return errno_error("eventfd failed");
  return std::unique_ptr<StopController>(new StopController(UniqueFd(fd)));
}

bool StopController::request_stop(VmOutcome outcome) {
  {
    std::lock_guard lock(mutex_);
    if (outcome_) return false;
    outcome_ = std::move(outcome);
    stopping_.store(true, std::memory_order_release);
  }
  // Kick the vCPUs before waking the main loop, which goes on to join them.
  if (on_stop_) on_stop_();
  uint64_t one = 1;
  [[maybe_unused]] ssize_t written = ::write(event_fd_.get(), &one, sizeof one);
  return true;
}

std::optional<VmOutcome> StopController::outcome() const {
  std::lock_guard lock(mutex_);
  return outcome_;
}

}  // namespace vmhive
