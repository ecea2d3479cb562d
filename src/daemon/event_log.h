// The daemon's events: one JSON object per line, for state changes, VM
// exits with their status, crashes (with the VMM's crash report), seccomp
// kills and guest panics. Each is appended to <state>/events.jsonl (moved to
// events.jsonl.1 when it passes a size, so the log stays bounded) and handed
// to whoever follows the stream (GET /events).
//   {"time_ms": 1733131200123, "vm": "web-1", "type": "exited", "reason": "crashed", "status": 1, ...}
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "common/unique_fd.h"

namespace vmhive::daemon {

class EventLog {
 public:
  using Subscriber = std::function<void(const std::string& line)>;  // the line ends in '\n'

  // Opens (appends to) <dir_fd>/events.jsonl; rotated past `max_bytes`.
  static Result<EventLog> open(int dir_fd, uint64_t max_bytes = 4u << 20);

  // Adds time_ms, vm and type to `details`, writes the line and hands it to
  // the subscriber. A failed write is not the caller's problem: events go
  // on to the stream.
  void record(const std::string& vm, const std::string& type, nlohmann::ordered_json details = {});
  void set_subscriber(Subscriber subscriber) { subscriber_ = std::move(subscriber); }

 private:
  EventLog(int dir_fd, UniqueFd file, uint64_t size, uint64_t max_bytes)
      : dir_fd_(dir_fd), file_(std::move(file)), size_(size), max_bytes_(max_bytes) {}
  void rotate();

  int dir_fd_;
  UniqueFd file_;
  uint64_t size_;
  uint64_t max_bytes_;
  Subscriber subscriber_;
};

}  // namespace vmhive::daemon
