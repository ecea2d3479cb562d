// Log lines a guest can cause (a device it drove into DEVICE_NEEDS_RESET),
// limited so that a guest doing it in a loop cannot flood the VMM's stderr
// (or a clone server's, which its clones share): at most `burst` lines per
// `window`; lines held back are counted, and the next line that goes out
// says how many there were.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace vmhive {

class RateLimitedLog {
 public:
  using Clock = std::chrono::steady_clock;
  using Sink = std::function<void(const std::string& line)>;

  // The sink gets whole lines, newline included (default: stderr).
  explicit RateLimitedLog(size_t burst = 10, std::chrono::milliseconds window = std::chrono::seconds(60),
                          Sink sink = {}, std::function<Clock::time_point()> now = {});

  RateLimitedLog(const RateLimitedLog&) = delete;
  RateLimitedLog& operator=(const RateLimitedLog&) = delete;
  // Says how many lines were held back since the last one, if any.
  ~RateLimitedLog();

  // Thread-safe. `message` without the "vmhive: " prefix or newline.
  void write(const std::string& message);
  uint64_t suppressed_total() const;

 private:
  const size_t burst_;
  const std::chrono::milliseconds window_;
  Sink sink_;
  std::function<Clock::time_point()> now_;
  mutable std::mutex lock_;
  Clock::time_point window_start_{};
  size_t written_in_window_ = 0;
  uint64_t held_back_ = 0;        // since the last line that went out
  std::string last_held_back_;
  uint64_t suppressed_total_ = 0;
};

}  // namespace vmhive
