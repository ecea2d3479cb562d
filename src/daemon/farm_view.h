// What the daemon knows of the honeyfarm it runs, built from the farm's
// event lines (docs/farm.md, "Events") as they come: which address is
// bound to which clone of which profile, the gateway's latest counters and
// live clone count (its "stats" lines), the recent breach alerts, and the
// recent events (for a dashboard that joins late). Every line is the farm
// process's output, so it is parsed defensively: a line that is not a
// well-formed event is counted and skipped. Bounded: at most kMaxBindings
// addresses (a /16), kMaxAlerts alerts and kMaxRecent events are kept.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace vmhive::daemon {

struct FarmBinding {
  uint64_t clone = 0;
  std::string profile;
  int64_t bound_ms = 0;            // wall clock, from the event
  uint64_t reflected_from = 0;     // 0: bound by the outside
};

class FarmView {
 public:
  static constexpr size_t kMaxBindings = 65536;
  static constexpr size_t kMaxAlerts = 200;
  static constexpr size_t kMaxRecent = 500;
  static constexpr size_t kMaxLine = 64 * 1024;

  // Takes one line of the farm's stdout; returns the event it was (as a
  // compact JSON line, for streams), or nothing for a line that was not one.
  std::optional<std::string> apply(std::string_view line);

  // {"state", "range", "live", "held", "bindings": [{"address", "clone", "profile", "bound_ms",
  //  "reflected_from"}...], "counters": {...}, "alerts": [...], "malformed_lines"}
  nlohmann::ordered_json to_json() const;
  const std::deque<std::string>& recent() const { return recent_; }
  std::optional<uint64_t> clone_at(const std::string& address) const;
  void set_state(std::string state) { state_ = std::move(state); }
  const std::string& state() const { return state_; }
  // Where this run of the farm keeps its clones' consoles ("consoles" in its ready line); empty: none.
  const std::string& consoles() const { return consoles_; }
  uint64_t malformed_lines() const { return malformed_; }

 private:
  std::string state_ = "starting";
  std::string range_;
  std::string consoles_;
  std::map<std::string, FarmBinding> bindings_;  // by address
  nlohmann::ordered_json counters_ = nlohmann::ordered_json::object();
  uint64_t live_ = 0, held_ = 0;
  std::deque<nlohmann::ordered_json> alerts_;
  std::deque<std::string> recent_;
  uint64_t malformed_ = 0;
};

}  // namespace vmhive::daemon
