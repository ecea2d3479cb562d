#include "control/control_request.h"

#include <nlohmann/json.hpp>

namespace vmhive::control {
namespace {

using nlohmann::json;

Result<Operation> operation_named(const std::string& name) {
  if (name == "snapshot") return Operation::kSnapshot;
  if (name == "pause") return Operation::kPause;
  if (name == "resume") return Operation::kResume;
  if (name == "stop") return Operation::kStop;
  if (name == "ctrl_alt_del") return Operation::kCtrlAltDel;
  if (name == "status") return Operation::kStatus;
  if (name == "stats") return Operation::kStats;
  return make_error("unknown op '" + name + "' (snapshot, pause, resume, stop, ctrl_alt_del, status, stats)");
}

}  // namespace

Result<ControlRequest> parse_control_request(std::string_view line) {
  if (line.size() > kMaxRequestBytes) return make_error("request longer than " + std::to_string(kMaxRequestBytes) + " bytes");
  json request = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded()) return make_error("request is not valid JSON");
  if (!request.is_object()) return make_error("request must be a JSON object");
  auto op = request.find("op");
  if (op == request.end() || !op->is_string()) return make_error("request needs \"op\" as a string");
  ControlRequest parsed;
  parsed.op = VMHIVE_TRY(operation_named(op->get<std::string>()));
  for (auto member = request.begin(); member != request.end(); ++member) {
    const std::string& key = member.key();
    if (key == "op") continue;
    if (parsed.op == Operation::kSnapshot && key == "dir") {
      if (!member->is_string() || member->get<std::string>().empty())
        return make_error("\"dir\" must be a non-empty string");
      parsed.dir = member->get<std::string>();
    } else if (parsed.op == Operation::kSnapshot && key == "resume") {
      if (!member->is_boolean()) return make_error("\"resume\" must be true or false");
      parsed.resume = member->get<bool>();
    } else {
      return make_error("unexpected member \"" + key + "\" for op " + op->get<std::string>());
    }
  }
  if (parsed.op == Operation::kSnapshot && parsed.dir.empty()) return make_error("snapshot needs \"dir\"");
  return parsed;
}

std::string ok_reply(const nlohmann::ordered_json& members) {
  nlohmann::ordered_json reply = {{"ok", true}};
  for (const auto& [key, value] : members.items()) reply[key] = value;
  return reply.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::string error_reply(std::string_view message) {
  const nlohmann::ordered_json reply = {{"ok", false}, {"error", std::string(message)}};
  return reply.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace vmhive::control
