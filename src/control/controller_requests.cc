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

ordered_json stats_to_json(const VmStats& stats) {
  ordered_json exits = ordered_json::object();
  for (const auto& [reason, count] : stats.exits) exits[reason] = count;
  ordered_json devices = ordered_json::array();
  for (const DeviceStats& device : stats.devices)
    devices.push_back({{"kind", device.kind},
                       {"index", device.index},
                       {"in_requests", device.in_requests},
                       {"in_bytes", device.in_bytes},
                       {"out_requests", device.out_requests},
                       {"out_bytes", device.out_bytes},
                       {"other_requests", device.other_requests},
                       {"failed", device.failed}});
  return ordered_json{{"vcpu_seconds", stats.vcpu_seconds}, {"exits", std::move(exits)}, {"devices", std::move(devices)}};
}

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
    case Operation::kCtrlAltDel:
      if (auto pressed = controller.press_ctrl_alt_del(); !pressed.ok()) return error_reply(pressed.error().message);
      return ok_reply();
    case Operation::kStatus:
      return ok_reply(state_member(controller.status().state));
    case Operation::kStats:
      return ok_reply(stats_to_json(controller.stats()));
  }
  return error_reply("unknown request");
}

}  // namespace vmhive::control
