#include "clones/clone_server_protocol.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "control/control_request.h"

namespace vmhive::clones {
namespace {

using nlohmann::json;
// Replies keep "ok" first, for a reader's eye.
using ordered_json = nlohmann::ordered_json;

std::string line_of(const ordered_json& reply) {
  return reply.dump(-1, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace

Result<CloneServerRequest> parse_clone_server_request(std::string_view line) {
  if (line.size() > control::kMaxRequestBytes) return make_error("request longer than 64 KiB");
  const json request = json::parse(line, nullptr, false);
  if (request.is_discarded() || !request.is_object())
    return make_error("a request is one JSON object, like {\"op\":\"clone\"}");
  const auto op = request.find("op");
  if (op == request.end() || !op->is_string()) return make_error("\"op\" must be \"clone\" or \"status\"");
  CloneServerRequest parsed;
  if (*op == "status") {
    if (request.size() != 1) return make_error("status takes no arguments");
    return parsed;
  }
  if (*op != "clone") return make_error("unknown op (clone or status)");
  parsed.clone = true;
  for (const auto& [key, value] : request.items()) {
    if (key == "op") continue;
    if (key != "input") return make_error("unknown member \"" + key.substr(0, 32) + "\" (clone takes \"input\")");
    if (!value.is_string() || value.get_ref<const std::string&>().size() > kMaxCloneInputBytes)
      return make_error("\"input\" must be a string of at most 4096 bytes");
    parsed.input = value.get<std::string>();
  }
  return parsed;
}

std::string started_reply(unsigned index, pid_t pid, double start_ms) {
  // Microseconds are all a start time means here.
  return line_of({{"ok", true}, {"index", index}, {"pid", pid}, {"start_ms", std::round(start_ms * 1000) / 1000}});
}

std::string status_reply(size_t ready, size_t restoring, size_t started) {
  return line_of({{"ok", true}, {"ready", ready}, {"restoring", restoring}, {"started", started}});
}

std::string error_reply(std::string_view message) { return control::error_reply(message); }

}  // namespace vmhive::clones
