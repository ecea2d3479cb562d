// The per-VM control protocol carried out on a controller: each request
// reaches the controller's matching operation, and the reply is one JSON
// line with the members clients read (bench/clone, docs/snapshots.md).
// The controller here records calls; the real one runs under the
// integration tests (tests/integration/snapshot_test.cc).
#include "control/controller_requests.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace vmhive::control {
namespace {

class RecordingController : public VmController {
 public:
  Result<void> pause() override {
    calls.push_back("pause");
    state = VmState::kPaused;
    return {};
  }
  Result<void> resume() override {
    calls.push_back("resume");
    state = VmState::kRunning;
    return {};
  }
  Result<SnapshotReport> snapshot(const std::string& dir, bool resume) override {
    calls.push_back("snapshot " + dir + (resume ? " resume" : " stop"));
    if (dir == "/refused") return make_error("snapshot directory /refused: Permission denied");
    SnapshotReport report;
    report.total_ms = 1.5;
    report.memory_bytes_written = 4096;
    report.state_bytes = 77;
    return report;
  }
  void stop() override {
    calls.push_back("stop");
    state = VmState::kStopping;
  }
  Result<void> press_ctrl_alt_del() override {
    calls.push_back("ctrl-alt-del");
    if (keyboard_full) return make_error("the keyboard's buffer is full: the guest is not reading its keyboard");
    return {};
  }
  VmStatus status() const override { return {state}; }
  VmStats stats() const override { return {1.5, {{"io", 7}, {"mmio", 2}}, {{"virtio-blk", 0, 1, 512, 2, 1024, 3, 0}}}; }

  std::vector<std::string> calls;
  VmState state = VmState::kRunning;
  bool keyboard_full = false;
};

nlohmann::json reply_of(const std::string& line, VmController& controller) {
  const std::string reply = serve_request(line, controller);
  EXPECT_EQ(reply.back(), '\n');
  EXPECT_EQ(reply.find('\n'), reply.size() - 1) << "one line";
  return nlohmann::json::parse(reply);
}

TEST(ControllerRequests, EachRequestReachesItsOperation) {
  RecordingController controller;
  EXPECT_EQ(reply_of(R"({"op":"status"})", controller)["state"], "running");
  EXPECT_EQ(reply_of(R"({"op":"pause"})", controller)["state"], "paused");
  EXPECT_EQ(reply_of(R"({"op":"status"})", controller)["state"], "paused");
  EXPECT_EQ(reply_of(R"({"op":"resume"})", controller)["state"], "running");
  const auto snapshot = reply_of(R"({"op":"snapshot","dir":"/snap","resume":false})", controller);
  EXPECT_EQ(snapshot["ok"], true);
  EXPECT_EQ(snapshot["total_ms"], 1.5);
  EXPECT_EQ(snapshot["memory_bytes_written"], 4096);
  EXPECT_EQ(snapshot["state_bytes"], 77);
  for (const char* member : {"pause_ms", "capture_ms", "memory_ms", "state_ms"}) EXPECT_TRUE(snapshot.contains(member));
  EXPECT_EQ(reply_of(R"({"op":"ctrl_alt_del"})", controller)["ok"], true);
  controller.keyboard_full = true;
  const auto full = reply_of(R"({"op":"ctrl_alt_del"})", controller);
  EXPECT_EQ(full["ok"], false);
  EXPECT_NE(full["error"].get<std::string>().find("not reading its keyboard"), std::string::npos);
  EXPECT_EQ(reply_of(R"({"op":"ctrl_alt_del","keys":"x"})", controller)["ok"], false);
  EXPECT_EQ(reply_of(R"({"op":"stop"})", controller)["state"], "stopping");
  EXPECT_EQ(controller.calls, (std::vector<std::string>{"pause", "resume", "snapshot /snap stop", "ctrl-alt-del",
                                                        "ctrl-alt-del", "stop"}));
}

TEST(ControllerRequests, StatsCarryExitsByReasonAndEachDevicesWork) {
  RecordingController controller;
  const auto stats = reply_of(R"({"op":"stats"})", controller);
  EXPECT_EQ(stats["ok"], true);
  EXPECT_EQ(stats["vcpu_seconds"], 1.5);
  EXPECT_EQ(stats["exits"], nlohmann::json::parse(R"({"io":7,"mmio":2})"));
  ASSERT_EQ(stats["devices"].size(), 1u);
  EXPECT_EQ(stats["devices"][0], nlohmann::json::parse(R"({"kind":"virtio-blk","index":0,"in_requests":1,
      "in_bytes":512,"out_requests":2,"out_bytes":1024,"other_requests":3,"failed":0})"));
  EXPECT_EQ(reply_of(R"({"op":"stats","extra":1})", controller)["ok"], false);
}

TEST(ControllerRequests, FailuresAndBadRequestsAreErrorReplies) {
  RecordingController controller;
  const auto refused = reply_of(R"({"op":"snapshot","dir":"/refused"})", controller);
  EXPECT_EQ(refused["ok"], false);
  EXPECT_EQ(refused["error"], "snapshot directory /refused: Permission denied");
  const auto bad = reply_of(R"({"op":"reboot"})", controller);
  EXPECT_EQ(bad["ok"], false);
  EXPECT_NE(bad["error"].get<std::string>().find("unknown op 'reboot'"), std::string::npos);
  const auto garbage = reply_of(std::string("\xff\xfe{", 3), controller);
  EXPECT_EQ(garbage["ok"], false);
  EXPECT_EQ(controller.calls, (std::vector<std::string>{"snapshot /refused resume"}));
}

TEST(ControllerRequests, TheReplyStartsWithOk) {
  RecordingController controller;
  // `vmhive snapshot` and scripts look at the first member.
  EXPECT_EQ(serve_request(R"({"op":"snapshot","dir":"/s"})", controller).rfind("{\"ok\":true,", 0), 0u);
  EXPECT_EQ(serve_request(R"({"op":"nope"})", controller).rfind("{\"ok\":false,", 0), 0u);
}

}  // namespace
}  // namespace vmhive::control
