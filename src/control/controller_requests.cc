#include "control/controller_requests.h"

#include "control/control_request.h"

namespace vmhive::control {
namespace {

using nlohmann::ordered_json;

ordered_json state_member(VmState state) { return ordered_json{{"state", state_name(state)}}; }

ordered_json report_members(const SnapshotReport& report) {
  return ordered_json{{"pause_ms", report.pause_ms},
                      {"capture_ms", report.capture_ms},
                      {"memory_ms", report.memory_ms},
                      {"state_ms", report.state_ms},
                      {"total_ms", report.total_ms},
                      {"memory_bytes_written", report.memory_bytes_written},
                      {"state_bytes", report.state_bytes}};
}

}  // namespace

const char* state_name(VmState state) {
  switch (state) {
    case VmState::kRunning: return "running";
    case VmState::kPaused: return "paused";
    case VmState::kStopping: return "stopping";
  }
  return "unknown";
}

std::string serve_request(std::string_view line, VmController& controller) {
  auto request = parse_control_request(line);
  if (!request.ok()) return error_reply(request.error().message);
  switch (request->op) {
    case Operation::kSnapshot: {
      auto report = controller.snapshot(request->dir, request->resume);
      if (!report.ok()) return error_reply(report.error().message);
      return ok_reply(report_members(*report));
    }
    case Operation::kPause: {
      if (auto paused = controller.pause(); !paused.ok()) return error_reply(paused.error().message);
      return ok_reply(state_member(VmState::kPaused));
    }
    case Operation::kResume: {
      if (auto resumed = controller.resume(); !resumed.ok()) return error_reply(resumed.error().message);
      return ok_reply(state_member(VmState::kRunning));
    }
    case Operation::kStop:
      controller.stop();
      return ok_reply(state_member(VmState::kStopping));
    case Operation::kStatus:
      return ok_reply(state_member(controller.status().state));
  }
  return error_reply("unknown request");
}

}  // namespace vmhive::control
