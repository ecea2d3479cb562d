#include "common/rate_limited_log.h"

#include <unistd.h>

#include "common/fd_io.h"

namespace vmhive {

RateLimitedLog::RateLimitedLog(size_t burst, std::chrono::milliseconds window, Sink sink,
                               std::function<Clock::time_point()> now)
    : burst_(burst), window_(window), sink_(std::move(sink)), now_(std::move(now)) {
  if (!sink_) sink_ = [](const std::string& line) { (void)write_fully(STDERR_FILENO, line); };
  if (!now_) now_ = [] { return Clock::now(); };
}

void RateLimitedLog::write(const std::string& message) {
  std::string line;
  {
    std::lock_guard guard(lock_);
    const Clock::time_point now = now_();
    if (written_in_window_ == 0 || now - window_start_ >= window_) {
      window_start_ = now;
      written_in_window_ = 0;
    }
    if (written_in_window_ >= burst_) {
      ++held_back_;
      ++suppressed_total_;
      last_held_back_ = message;
      return;
    }
    ++written_in_window_;
    line = "vmhive: " + message;
    if (held_back_ != 0) line += " (" + std::to_string(held_back_) + " similar lines held back before this one)";
    line += '\n';
    held_back_ = 0;
  }
  sink_(line);
}

RateLimitedLog::~RateLimitedLog() {
  if (held_back_ != 0)
    sink_("vmhive: " + std::to_string(held_back_) + " lines held back, the last: " + last_held_back_ + "\n");
}

uint64_t RateLimitedLog::suppressed_total() const {
  std::lock_guard guard(lock_);
  return suppressed_total_;
}

}  // namespace vmhive
