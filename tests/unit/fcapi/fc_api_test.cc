// The Firecracker API's routing and state machine over a recording VMM:
// status codes and error shape, pre-boot and post-boot rules, the VmSpec
// InstanceStart boots, and the snapshot directory mapping
// (docs/firecracker-api.md). The real VMM behind it runs under
// tests/integration/firecracker_api_test.cc.
#include "fcapi/fc_api.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "temp_dir.h"

namespace vmhive::fcapi {
namespace {

using nlohmann::json;

class FakeController : public control::VmController {
 public:
  Result<void> pause() override {
    calls.push_back("pause");
    state = control::VmState::kPaused;
    return {};
  }
  Result<void> resume() override {
    calls.push_back("resume");
    state = control::VmState::kRunning;
    return {};
  }
  Result<control::SnapshotReport> snapshot(const std::string& dir, bool resume) override {
    calls.push_back("snapshot " + dir + (resume ? "" : " stop"));
    // What the real one leaves behind: a directory with a memory file.
    ::mkdir(dir.c_str(), 0700);
    std::ofstream(dir + "/memory") << "ram";
    return control::SnapshotReport{};
  }
  void stop() override { calls.push_back("stop"); }
  Result<void> press_ctrl_alt_del() override {
    calls.push_back("ctrl-alt-del");
    if (keyboard_full) return make_error("the keyboard's buffer is full: the guest is not reading its keyboard");
    return {};
  }
  control::VmStatus status() const override { return {state}; }
  control::VmStats stats() const override { return {}; }

  std::vector<std::string> calls;
  control::VmState state = control::VmState::kRunning;
  bool keyboard_full = false;
};

class FakeVmm : public Vmm {
 public:
  Result<void> boot(const config::VmSpec& spec) override {
    if (fail) return make_error("no /dev/kvm");
    booted = spec;
    running = true;
    return {};
  }
  Result<void> load_snapshot(const std::string& dir, bool resume) override {
    loaded = dir + (resume ? " resume" : " paused");
    if (!resume) vm.state = control::VmState::kPaused;
    running = true;
    return {};
  }
  control::VmController* controller() override { return running ? &vm : nullptr; }
  Result<void> open_logger(const std::string& path) override {
    logger = path;
    return {};
  }
  Result<void> open_metrics(const std::string& path) override {
    metrics = path;
    return {};
  }
  Result<void> flush_metrics(InstanceState state) override {
    flushed.push_back(state_name(state));
    return {};
  }

  bool fail = false;
  bool running = false;
  FakeController vm;
  std::optional<config::VmSpec> booted;
  std::string loaded, logger, metrics;
  std::vector<std::string> flushed;
};

class FcApiTest : public ::testing::Test {
 protected:
  FcApiTest() {
    std::ofstream(kernel_) << "kernel";
    std::ofstream(rootfs_) << "disk";
  }
  static config::VmSpec base_spec() {
    config::VmSpec spec;
    spec.console = "/tmp/console.log";
    return spec;
  }

  http::Response send(const std::string& method, const std::string& path, const std::string& body = {}) {
    http::Request request;
    request.method = method;
    request.target = path;
    request.path = path;
    request.body = body;
    return api_.handle(request);
  }
  // The fault message of a 400, or a note that it was not one.
  std::string fault(const http::Response& response) {
    if (response.status != 400) return "status " + std::to_string(response.status);
    return json::parse(response.body).at("fault_message").get<std::string>();
  }
  std::string state() { return json::parse(send("GET", "/").body).at("state").get<std::string>(); }
  void configure() {
    ASSERT_EQ(send("PUT", "/boot-source", R"({"kernel_image_path": ")" + kernel_ + R"(", "boot_args": "console=ttyS0"})").status, 204);
    ASSERT_EQ(send("PUT", "/machine-config", R"({"vcpu_count": 2, "mem_size_mib": 512})").status, 204);
  }
  void start() { ASSERT_EQ(send("PUT", "/actions", R"({"action_type": "InstanceStart"})").status, 204); }

  testing::TempDir temp_;
  std::string kernel_ = temp_.file("vmlinux");
  std::string rootfs_ = temp_.file("rootfs.ext4");
  FakeVmm vmm_;
  FcApi api_{vmm_, base_spec(), "anonymous-instance"};
};

TEST_F(FcApiTest, InstanceInfo) {
  const http::Response response = send("GET", "/");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "application/json");
  const json info = json::parse(response.body);
  EXPECT_EQ(info.at("app_name"), "vmhive");
  EXPECT_EQ(info.at("id"), "anonymous-instance");
  EXPECT_EQ(info.at("state"), "Not started");
  EXPECT_TRUE(info.at("vmm_version").is_string());
}

TEST_F(FcApiTest, ConfigureAndStartBootsTheSpecThatWasPut) {
  configure();
  EXPECT_EQ(send("PUT", "/drives/scratch", R"({"drive_id": "scratch", "path_on_host": ")" + kernel_ +
                                               R"(", "is_root_device": false, "is_read_only": true})").status, 204);
  EXPECT_EQ(send("PUT", "/drives/rootfs", R"({"drive_id": "rootfs", "path_on_host": ")" + rootfs_ +
                                              R"(", "is_root_device": true, "is_read_only": false})").status, 204);
  EXPECT_EQ(send("PUT", "/network-interfaces/eth0",
                 R"({"iface_id": "eth0", "guest_mac": "06:00:AC:10:00:02", "host_dev_name": "tap0"})").status, 204);
  start();
  ASSERT_TRUE(vmm_.booted.has_value());
  const config::VmSpec& spec = *vmm_.booted;
  EXPECT_EQ(spec.kernel, kernel_);
  EXPECT_EQ(spec.cpus, 2u);
  EXPECT_EQ(spec.mem, "512M");
  EXPECT_EQ(spec.console, "/tmp/console.log");  // from the command line
  EXPECT_EQ(spec.cmdline, "console=ttyS0 root=/dev/vda rw");
  ASSERT_EQ(spec.disks.size(), 2u);
  EXPECT_EQ(spec.disks[0].path, rootfs_);  // the root device first: /dev/vda
  EXPECT_EQ(spec.disks[1].path, kernel_);
  EXPECT_TRUE(spec.disks[1].read_only);
  ASSERT_EQ(spec.nets.size(), 1u);
  EXPECT_EQ(spec.nets[0].tap, "tap0");
  EXPECT_EQ(state(), "Running");
}

TEST_F(FcApiTest, ErrorsHaveFirecrackersShape) {
  const http::Response response = send("PUT", "/boot-source", R"({"kernel_image_path": "/k", "extra": 1})");
  EXPECT_EQ(response.status, 400);
  const json body = json::parse(response.body);
  ASSERT_EQ(body.size(), 1u);
  EXPECT_NE(body.at("fault_message").get<std::string>().find("unknown field `extra`"), std::string::npos);
  EXPECT_NE(fault(send("PUT", "/boot-source", R"({"kernel_image_path": "/nonexistent/vmlinux"})")).find("cannot be opened"),
            std::string::npos);
  EXPECT_EQ(fault(send("GET", "/nothing")), "Invalid request method and/or path: GET /nothing.");
  EXPECT_EQ(fault(send("DELETE", "/")), "Invalid request method and/or path: DELETE /.");
  EXPECT_NE(fault(send("PUT", "/balloon", "{}")).find("PUT /balloon is not supported by vmhive"), std::string::npos);
  EXPECT_NE(fault(send("PATCH", "/drives/rootfs", "{}")).find("not supported by vmhive"), std::string::npos);
  EXPECT_NE(fault(send("PATCH", "/machine-config", "{}")).find("not supported by vmhive"), std::string::npos);
  EXPECT_EQ(fault(send("PUT", "/drives/a", R"({"drive_id": "b", "path_on_host": ")" + rootfs_ + R"(", "is_root_device": false})")),
            "The id from the path does not match the id from the body!");
  EXPECT_NE(fault(send("PUT", "/drives/a-b", "{}")).find("Invalid drive id"), std::string::npos);
}

TEST_F(FcApiTest, MachineConfigReadsBackWhatTheVmGets) {
  json config = json::parse(send("GET", "/machine-config").body);
  EXPECT_EQ(config.at("vcpu_count"), 1);
  EXPECT_EQ(config.at("mem_size_mib"), 256);  // the command line's default
  EXPECT_EQ(config.at("smt"), false);
  configure();
  config = json::parse(send("GET", "/machine-config").body);
  EXPECT_EQ(config.at("vcpu_count"), 2);
  EXPECT_EQ(config.at("mem_size_mib"), 512);
}

TEST_F(FcApiTest, OneRootDevice) {
  const auto drive = [&](const std::string& id, bool root) {
    return send("PUT", "/drives/" + id, R"({"drive_id": ")" + id + R"(", "path_on_host": ")" + rootfs_ +
                                            R"(", "is_root_device": )" + (root ? "true" : "false") + "}");
  };
  EXPECT_EQ(drive("a", true).status, 204);
  EXPECT_EQ(fault(drive("b", true)), "A root block device already exists!");
  EXPECT_EQ(drive("a", true).status, 204);  // the same drive again is an update
  EXPECT_EQ(drive("a", false).status, 204);
  EXPECT_EQ(drive("b", true).status, 204);
}

TEST_F(FcApiTest, StartNeedsABootSourceAndReportsTheVmmsError) {
  EXPECT_EQ(fault(send("PUT", "/actions", R"({"action_type": "InstanceStart"})")),
            "Cannot start microvm without kernel configuration.");
  configure();
  vmm_.fail = true;
  EXPECT_EQ(fault(send("PUT", "/actions", R"({"action_type": "InstanceStart"})")), "Start microvm error: no /dev/kvm");
  EXPECT_EQ(state(), "Not started");
}

TEST_F(FcApiTest, PreBootOnlyCallsAreRefusedAfterStart) {
  configure();
  start();
  const std::string after = "The requested operation is not supported after starting the microVM.";
  EXPECT_EQ(fault(send("PUT", "/boot-source", R"({"kernel_image_path": ")" + kernel_ + R"("})")), after);
  EXPECT_EQ(fault(send("PUT", "/machine-config", R"({"vcpu_count": 1, "mem_size_mib": 128})")), after);
  EXPECT_EQ(fault(send("PUT", "/drives/d", R"({"drive_id": "d", "path_on_host": ")" + rootfs_ + R"(", "is_root_device": false})")), after);
  EXPECT_EQ(fault(send("PUT", "/network-interfaces/n", R"({"iface_id": "n", "host_dev_name": "tap0"})")), after);
  EXPECT_EQ(fault(send("PUT", "/actions", R"({"action_type": "InstanceStart"})")), after);
  EXPECT_EQ(fault(send("PUT", "/logger", R"({"log_path": "/l"})")), after);
  EXPECT_EQ(fault(send("PUT", "/snapshot/load", R"({"snapshot_path": "s", "mem_file_path": "m"})")), after);
}

TEST_F(FcApiTest, PostBootOnlyCallsAreRefusedBefore) {
  const std::string before = "The requested operation is not supported before starting the microVM.";
  EXPECT_EQ(fault(send("PATCH", "/vm", R"({"state": "Paused"})")), before);
  EXPECT_EQ(fault(send("PUT", "/snapshot/create", R"({"snapshot_path": "s", "mem_file_path": "m"})")), before);
  EXPECT_EQ(fault(send("PUT", "/actions", R"({"action_type": "SendCtrlAltDel"})")), before);
}

TEST_F(FcApiTest, PauseResumeAndSnapshotOnlyWhilePaused) {
  configure();
  start();
  const std::string snapshot = temp_.file("snap");
  const std::string memory = temp_.file("mem_file");
  const std::string create = R"({"snapshot_type": "Full", "snapshot_path": ")" + snapshot +
                             R"(", "mem_file_path": ")" + memory + R"("})";
  EXPECT_NE(fault(send("PUT", "/snapshot/create", create)).find("not paused"), std::string::npos);
  EXPECT_EQ(send("PATCH", "/vm", R"({"state": "Paused"})").status, 204);
  EXPECT_EQ(state(), "Paused");
  EXPECT_EQ(send("PUT", "/snapshot/create", create).status, 204);
  // The memory file is where the client asked: a link into the directory.
  char target[4096] = {};
  ASSERT_GT(::readlink(memory.c_str(), target, sizeof target - 1), 0);
  EXPECT_EQ(std::string(target), snapshot + "/memory");
  EXPECT_EQ(state(), "Paused");
  // Again to the same paths: the link is already right.
  EXPECT_EQ(send("PUT", "/snapshot/create", create).status, 204);
  EXPECT_EQ(send("PATCH", "/vm", R"({"state": "Resumed"})").status, 204);
  EXPECT_EQ(state(), "Running");
  EXPECT_EQ(send("PUT", "/actions", R"({"action_type": "SendCtrlAltDel"})").status, 204);
  vmm_.vm.keyboard_full = true;  // Firecracker's answer when its i8042 buffer is full: 400 with the reason
  EXPECT_EQ(fault(send("PUT", "/actions", R"({"action_type": "SendCtrlAltDel"})")),
            "SendCtrlAltDel: the keyboard's buffer is full: the guest is not reading its keyboard");
  EXPECT_EQ(vmm_.vm.calls, (std::vector<std::string>{"pause", "snapshot " + snapshot, "snapshot " + snapshot, "resume",
                                                     "ctrl-alt-del", "ctrl-alt-del"}));
}

TEST_F(FcApiTest, ASnapshotNeverReplacesAnotherFileAtTheMemoryPath) {
  configure();
  start();
  const std::string memory = temp_.file("precious");
  std::ofstream(memory) << "keep me";
  EXPECT_EQ(send("PATCH", "/vm", R"({"state": "Paused"})").status, 204);
  const std::string message = fault(send("PUT", "/snapshot/create", R"({"snapshot_path": ")" + temp_.file("snap") +
                                                                          R"(", "mem_file_path": ")" + memory + R"("})"));
  EXPECT_NE(message.find("replaces no other file"), std::string::npos) << message;
  std::ifstream kept(memory);
  std::string text;
  std::getline(kept, text);
  EXPECT_EQ(text, "keep me");
}

TEST_F(FcApiTest, LoadOnlyInAFreshProcessAndOnlyTheSnapshotsMemory) {
  const std::string snapshot = temp_.file("snap");
  ::mkdir(snapshot.c_str(), 0700);
  std::ofstream(snapshot + "/memory") << "ram";
  ASSERT_EQ(::symlink((snapshot + "/memory").c_str(), temp_.file("mem").c_str()), 0);
  std::ofstream(temp_.file("other")) << "ram";
  const auto load = [&](const std::string& memory) {
    return send("PUT", "/snapshot/load", R"({"snapshot_path": ")" + snapshot + R"(", "mem_backend": {"backend_path": ")" +
                                             memory + R"(", "backend_type": "File"}})");
  };
  EXPECT_NE(fault(load(temp_.file("other"))).find("loads guest memory only from the snapshot directory"), std::string::npos);
  EXPECT_EQ(send("PUT", "/logger", R"({"log_path": ")" + temp_.file("log") + R"("})").status, 204);  // allowed before a load
  EXPECT_EQ(load(temp_.file("mem")).status, 204);
  EXPECT_EQ(vmm_.loaded, snapshot + " paused");
  EXPECT_EQ(state(), "Paused");
  EXPECT_EQ(send("PATCH", "/vm", R"({"state": "Resumed"})").status, 204);
  EXPECT_EQ(state(), "Running");
}

TEST_F(FcApiTest, NoLoadAfterConfiguring) {
  configure();
  EXPECT_EQ(fault(send("PUT", "/snapshot/load", R"({"snapshot_path": "s", "mem_file_path": "m"})")),
            "Loading a microVM snapshot not allowed after configuring boot-specific resources.");
}

TEST_F(FcApiTest, LoggerAndMetricsOnceEach) {
  EXPECT_NE(fault(send("PUT", "/actions", R"({"action_type": "FlushMetrics"})")).find("PUT /metrics first"), std::string::npos);
  EXPECT_EQ(send("PUT", "/logger", R"({"log_path": "/tmp/l", "level": "Info"})").status, 204);
  EXPECT_EQ(send("PUT", "/metrics", R"({"metrics_path": "/tmp/m"})").status, 204);
  EXPECT_EQ(vmm_.logger, "/tmp/l");
  EXPECT_EQ(vmm_.metrics, "/tmp/m");
  EXPECT_EQ(send("PUT", "/actions", R"({"action_type": "FlushMetrics"})").status, 204);
  EXPECT_EQ(vmm_.flushed, std::vector<std::string>{"Not started"});
  EXPECT_EQ(fault(send("PUT", "/metrics", R"({"metrics_path": "/tmp/m"})")), "Reinitialization of metrics not allowed.");
  EXPECT_NE(fault(send("PUT", "/logger", R"({"log_path": "/tmp/l"})")).find("already configured"), std::string::npos);
}

TEST(FcFaultBody, IsValidJsonWhateverTheMessage) {
  const json body = json::parse(fault_body("bad \xff byte \"quoted\""));
  EXPECT_TRUE(body.at("fault_message").is_string());
}

}  // namespace
}  // namespace vmhive::fcapi
