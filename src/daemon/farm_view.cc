#include "daemon/farm_view.h"

namespace vmhive::daemon {
namespace {

using json = nlohmann::ordered_json;

std::string string_member(const json& event, const char* name) {
  const auto found = event.find(name);
  return found != event.end() && found->is_string() ? found->get<std::string>() : std::string();
}

uint64_t number_member(const json& event, const char* name) {
  const auto found = event.find(name);
  return found != event.end() && found->is_number_unsigned() ? found->get<uint64_t>() : 0;
}

}  // namespace

std::optional<std::string> FarmView::apply(std::string_view line) {
  if (line.size() > kMaxLine) {
    ++malformed_;
    return std::nullopt;
  }
  json event = json::parse(line.begin(), line.end(), nullptr, false);
  if (event.is_discarded() || !event.is_object() || !event.contains("event") || !event["event"].is_string()) {
    ++malformed_;
    return std::nullopt;
  }
  const std::string type = event["event"].get<std::string>();
  const std::string address = string_member(event, "address");
  if (type == "ready") {
    state_ = "running";
    range_ = string_member(event, "range");
    consoles_ = string_member(event, "consoles");
  } else if (type == "bound" && !address.empty()) {
    if (bindings_.size() < kMaxBindings || bindings_.count(address) != 0) {
      const auto time = event.find("time_ms");
      bindings_[address] = FarmBinding{number_member(event, "clone"), string_member(event, "profile"),
                                       time != event.end() && time->is_number_integer() ? time->get<int64_t>() : 0,
                                       number_member(event, "reflected_from")};
    }
  } else if (type == "reclaimed" || type == "evicted" || type == "breach") {
    // Only the binding of that very clone: the address may have a new one by now.
    const auto found = bindings_.find(address);
    if (found != bindings_.end() && found->second.clone == number_member(event, "clone")) bindings_.erase(found);
    if (type == "breach") {
      alerts_.push_back(event);
      if (alerts_.size() > kMaxAlerts) alerts_.pop_front();
    }
  } else if (type == "stats") {
    live_ = number_member(event, "live");
    held_ = number_member(event, "held");
    if (event.contains("counters") && event["counters"].is_object()) counters_ = event["counters"];
  } else if (type == "stopped") {
    state_ = "stopped";
    if (event.contains("counters") && event["counters"].is_object()) counters_ = event["counters"];
    bindings_.clear();
    live_ = held_ = 0;
  }
  std::string compact = event.dump();
  if (type != "stats") {
    recent_.push_back(compact);
    if (recent_.size() > kMaxRecent) recent_.pop_front();
  }
  return compact;
}

json FarmView::to_json() const {
  json bindings = json::array();
  for (const auto& [address, binding] : bindings_)
    bindings.push_back({{"address", address}, {"clone", binding.clone}, {"profile", binding.profile},
                        {"bound_ms", binding.bound_ms}, {"reflected_from", binding.reflected_from}});
  json alerts = json::array();
  for (const json& alert : alerts_) alerts.push_back(alert);
  return {{"state", state_},       {"range", range_},   {"live", live_},         {"held", held_},
          {"bindings", bindings},  {"counters", counters_}, {"alerts", alerts}, {"malformed_lines", malformed_}};
}

std::optional<uint64_t> FarmView::clone_at(const std::string& address) const {
  const auto found = bindings_.find(address);
  if (found == bindings_.end()) return std::nullopt;
  return found->second.clone;
}

}  // namespace vmhive::daemon
