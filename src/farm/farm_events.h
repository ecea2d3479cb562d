// What the farm tells the world: every event a JSON line on stdout (the
// wall-clock time first), and alerts (a breach) also sent, one JSON line
// each, to the alert socket (a Unix stream socket the user listens on) and
// as an HTTP POST to the webhook. Deliveries happen on a thread of their
// own, in order, so a slow or dead receiver never holds up the packet
// path; one that fails is an "alert_undelivered" event.
#pragma once

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "http/http_client.h"

namespace vmhive::farm {

struct AlertTargets {
  std::string unix_socket;              // empty: none
  std::optional<http::HttpUrl> webhook;
};

class FarmEvents {
 public:
  explicit FarmEvents(AlertTargets targets, std::FILE* out = stdout);
  FarmEvents(const FarmEvents&) = delete;
  FarmEvents& operator=(const FarmEvents&) = delete;
  ~FarmEvents();  // delivers what is queued (each within its timeout), then stops

  // One event line: `event`'s members after "time_ms".
  void emit(const nlohmann::ordered_json& event);
  // An event line, also sent to the alert targets.
  void alert(const nlohmann::ordered_json& event);
  uint64_t alerts_undelivered() const;

 private:
  void write_line(const std::string& line);
  void deliver(std::stop_token stop);
  std::optional<std::string> send_to_socket(const std::string& line) const;
  std::optional<std::string> send_to_webhook(const std::string& line) const;

  AlertTargets targets_;
  std::FILE* out_;
  std::mutex out_mutex_;  // lines from the packet path and the delivery thread
  mutable std::mutex queue_mutex_;
  std::condition_variable_any queued_;
  std::deque<std::string> queue_;
  uint64_t undelivered_ = 0;
  std::jthread thread_;  // declared last: started once the rest exists
};

}  // namespace vmhive::farm
