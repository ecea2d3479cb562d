// `vmhive run --api-sock` driven the way Firecracker's getting-started guide
// drives a VM: the real curl over the Unix socket (docs/firecracker-api.md).
// Instance info, configuration and every refusal need no KVM; booting the
// counter guest, pausing, snapshotting it and loading the snapshot in a
// second process (whose guest continues with the first one's memory) do.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "file_contents.h"
#include "temp_dir.h"
#include "vm_process.h"

namespace vmhive::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

struct CurlReply {
  int status = 0;  // the HTTP status; 0 if curl itself failed
  std::string body;
};

// curl --unix-socket SOCKET -X METHOD http://localhost/PATH [-d BODY], as
// the guide types it; the status comes from -w.
CurlReply curl(const std::string& socket, const std::string& method, const std::string& path,
               const std::string& body = {}) {
  std::vector<std::string> args{"curl", "--silent", "--show-error", "--max-time", "60", "--unix-socket", socket,
                                "-X", method, "http://localhost" + path, "-H", "Accept: application/json",
                                "-w", "\n%{http_code}"};
  if (!body.empty()) {
    args.insert(args.end(), {"-H", "Content-Type: application/json", "-d", body});
  }
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ::execvp("curl", argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  std::string text;
  char buffer[4096];
  ssize_t count;
  while ((count = ::read(out[0], buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<size_t>(count));
  ::close(out[0]);
  int wait_status = 0;
  ::waitpid(pid, &wait_status, 0);
  CurlReply reply;
  const size_t newline = text.rfind('\n');
  if (newline == std::string::npos) return reply;
  reply.status = std::atoi(text.c_str() + newline + 1);
  reply.body = text.substr(0, newline);
  return reply;
}

std::string fault_of(const CurlReply& reply) {
  const json body = json::parse(reply.body, nullptr, false);
  if (reply.status != 400 || !body.is_object() || !body.contains("fault_message")) {
    return "(not a fault: " + std::to_string(reply.status) + " " + reply.body + ")";
  }
  return body["fault_message"].get<std::string>();
}

std::string state_of(const std::string& socket) {
  const CurlReply reply = curl(socket, "GET", "/");
  const json body = json::parse(reply.body, nullptr, false);
  return body.is_object() && body.contains("state") ? body["state"].get<std::string>() : "(" + reply.body + ")";
}

bool wait_for_socket(const std::string& path, VmProcess& vm) {
  for (int i = 0; i < 1000; ++i) {
    struct stat info {};
    if (::stat(path.c_str(), &info) == 0 && S_ISSOCK(info.st_mode)) return true;
    if (vm.wait(10ms).has_value()) return false;  // it exited
  }
  return false;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class FirecrackerApi : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(std::system("curl --version >/dev/null 2>&1"), 0) << "these tests need curl (scripts/setup.sh installs it)";
  }
  // `vmhive run --api-sock S`, waiting for configuration.
  VmProcess start_vmm(const std::string& socket, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"run", "--api-sock", socket};
    args.insert(args.end(), extra.begin(), extra.end());
    VmProcess vm = VmProcess::start(args);
    EXPECT_TRUE(wait_for_socket(socket, vm)) << vm.errors();
    return vm;
  }
  std::string boot_source() const {
    return R"({"kernel_image_path": ")" + guest_path("counter") + R"(", "boot_args": "console=ttyS0"})";
  }

  TempDir temp_;
  std::string socket_ = temp_.file("firecracker.socket");
};

TEST_F(FirecrackerApi, InstanceInfoBeforeStartAndAPrivateSocket) {
  VmProcess vm = start_vmm(socket_);
  struct stat info {};
  ASSERT_EQ(::stat(socket_.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  const CurlReply reply = curl(socket_, "GET", "/");
  ASSERT_EQ(reply.status, 200) << reply.body;
  const json body = json::parse(reply.body);
  EXPECT_EQ(body["app_name"], "vmhive");
  EXPECT_EQ(body["id"], "anonymous-instance");
  EXPECT_EQ(body["state"], "Not started");
  EXPECT_TRUE(body["vmm_version"].is_string());
  vm.send_signal(SIGTERM);
  EXPECT_EQ(vm.wait(10s), 128 + SIGTERM) << vm.errors();
  EXPECT_NE(::access(socket_.c_str(), F_OK), 0) << "the socket file outlived the VMM";
}

TEST_F(FirecrackerApi, ConfigurationAsTheGuideSendsItAndItsRefusals) {
  // A KVM device that is never there: InstanceStart fails the same way on every host.
  VmProcess vm = start_vmm(socket_, {"--kvm", temp_.file("no-kvm")});
  const std::string rootfs = temp_.file("rootfs.ext4");
  std::ofstream(rootfs) << std::string(1 << 20, '\0');
  EXPECT_EQ(curl(socket_, "PUT", "/boot-source", boot_source()).status, 204);
  EXPECT_EQ(curl(socket_, "PUT", "/machine-config", R"({"vcpu_count": 1, "mem_size_mib": 128})").status, 204);
  EXPECT_EQ(curl(socket_, "PUT", "/drives/rootfs",
                 R"({"drive_id": "rootfs", "path_on_host": ")" + rootfs + R"(", "is_root_device": true, "is_read_only": false})")
                .status,
            204);
  EXPECT_EQ(curl(socket_, "PUT", "/logger", R"({"log_path": ")" + temp_.file("vmm.log") + R"(", "level": "Info"})").status, 204);
  EXPECT_EQ(curl(socket_, "PUT", "/metrics", R"({"metrics_path": ")" + temp_.file("metrics.json") + R"("})").status, 204);

  EXPECT_TRUE(contains(fault_of(curl(socket_, "PUT", "/boot-source", R"({"kernel_image_path": "/k", "foo": 1})")),
                       "unknown field `foo`"));
  EXPECT_TRUE(contains(fault_of(curl(socket_, "PUT", "/machine-config", R"({"vcpu_count": "two", "mem_size_mib": 128})")),
                       "vcpu_count"));
  EXPECT_TRUE(contains(fault_of(curl(socket_, "PUT", "/machine-config", "{not json")), "not valid JSON"));
  EXPECT_TRUE(contains(fault_of(curl(socket_, "PUT", "/boot-source", R"({"kernel_image_path": "/nonexistent/vmlinux"})")),
                       "cannot be opened"));
  EXPECT_TRUE(contains(fault_of(curl(socket_, "PUT", "/drives/scratch",
                                     R"({"drive_id": "other", "path_on_host": ")" + rootfs + R"(", "is_root_device": false})")),
                       "does not match"));
  EXPECT_TRUE(contains(fault_of(curl(socket_, "PUT", "/network-interfaces/eth0",
                                     R"({"iface_id": "eth0", "host_dev_name": "tap0", "rx_rate_limiter": {}})")),
                       "`rx_rate_limiter` is not supported by vmhive"));
  EXPECT_TRUE(contains(fault_of(curl(socket_, "PUT", "/balloon", R"({"amount_mib": 0, "deflate_on_oom": false})")),
                       "PUT /balloon is not supported by vmhive"));
  EXPECT_TRUE(contains(fault_of(curl(socket_, "PUT", "/vsock", R"({"guest_cid": 3, "uds_path": "/v"})")), "not supported by vmhive"));
  EXPECT_EQ(fault_of(curl(socket_, "GET", "/no/such/thing")), "Invalid request method and/or path: GET /no/such/thing.");
  EXPECT_EQ(fault_of(curl(socket_, "PATCH", "/vm", R"({"state": "Paused"})")),
            "The requested operation is not supported before starting the microVM.");
  EXPECT_EQ(fault_of(curl(socket_, "PUT", "/snapshot/load", R"({"snapshot_path": "s", "mem_file_path": "m"})")),
            "Loading a microVM snapshot not allowed after configuring boot-specific resources.");
  EXPECT_EQ(curl(socket_, "PUT", "/actions", R"({"action_type": "FlushMetrics"})").status, 204);

  const std::string start = fault_of(curl(socket_, "PUT", "/actions", R"({"action_type": "InstanceStart"})"));
  EXPECT_TRUE(contains(start, "Start microvm error: ") && contains(start, "no-kvm")) << start;
  EXPECT_EQ(state_of(socket_), "Not started");
  vm.send_signal(SIGTERM);
  EXPECT_EQ(vm.wait(10s), 128 + SIGTERM);
  // The VMM's own lines went to the logger's file; a metrics line to the metrics file.
  const std::string metrics = file_contents(temp_.file("metrics.json"));
  const json line = json::parse(metrics.substr(0, metrics.find('\n')), nullptr, false);
  ASSERT_TRUE(line.is_object()) << metrics;
  EXPECT_EQ(line["vmhive"]["state"], "Not started");
  const std::string logged = file_contents(temp_.file("vmm.log"));
  EXPECT_TRUE(contains(logged, "stopped by signal")) << logged;
}

// Boot, pause, snapshot, and a second process that loads the snapshot: the
// guest continues with the memory the first one had (its mark).
TEST_F(FirecrackerApi, BootPauseSnapshotAndLoadInANewProcess) {
  VMHIVE_REQUIRE_KVM();
  VmProcess first = start_vmm(socket_);
  ASSERT_EQ(curl(socket_, "PUT", "/boot-source", boot_source()).status, 204);
  ASSERT_EQ(curl(socket_, "PUT", "/machine-config", R"({"vcpu_count": 1, "mem_size_mib": 128})").status, 204);
  const CurlReply started = curl(socket_, "PUT", "/actions", R"({"action_type": "InstanceStart"})");
  ASSERT_EQ(started.status, 204) << started.body << first.errors();
  ASSERT_TRUE(first.wait_for_output("counter: ready", 30s)) << first.errors();
  EXPECT_EQ(state_of(socket_), "Running");
  EXPECT_EQ(fault_of(curl(socket_, "PUT", "/boot-source", boot_source())),
            "The requested operation is not supported after starting the microVM.");
  EXPECT_EQ(fault_of(curl(socket_, "PUT", "/actions", R"({"action_type": "InstanceStart"})")),
            "The requested operation is not supported after starting the microVM.");
  // The counter guest never reads its keyboard: the keys wait there (and go
  // into the snapshot below), and a second press no longer fits.
  EXPECT_EQ(curl(socket_, "PUT", "/actions", R"({"action_type": "SendCtrlAltDel"})").status, 204);
  EXPECT_TRUE(contains(fault_of(curl(socket_, "PUT", "/actions", R"({"action_type": "SendCtrlAltDel"})")),
                       "not reading its keyboard"));
  first.write_input("m77x");
  ASSERT_TRUE(first.wait_for_output("counter: mark set to 77\n", 30s)) << first.output();

  const std::string snapshot = temp_.file("snapshot");
  const std::string memory = temp_.file("mem_file");
  const std::string create = R"({"snapshot_type": "Full", "snapshot_path": ")" + snapshot + R"(", "mem_file_path": ")" +
                             memory + R"("})";
  EXPECT_TRUE(contains(fault_of(curl(socket_, "PUT", "/snapshot/create", create)), "not paused"));
  ASSERT_EQ(curl(socket_, "PATCH", "/vm", R"({"state": "Paused"})").status, 204);
  EXPECT_EQ(state_of(socket_), "Paused");
  const CurlReply created = curl(socket_, "PUT", "/snapshot/create", create);
  ASSERT_EQ(created.status, 204) << created.body;
  EXPECT_EQ(::access((snapshot + "/state").c_str(), R_OK), 0);
  struct stat link {};
  ASSERT_EQ(::lstat(memory.c_str(), &link), 0);
  EXPECT_TRUE(S_ISLNK(link.st_mode));
  ASSERT_EQ(curl(socket_, "PATCH", "/vm", R"({"state": "Resumed"})").status, 204);
  EXPECT_EQ(state_of(socket_), "Running");
  const size_t before = first.output().size();
  first.write_input("p");
  EXPECT_TRUE(first.wait_for_output_after(before, " mark=77\n", 30s)) << first.output();
  first.send_signal(SIGTERM);
  EXPECT_EQ(first.wait(10s), 128 + SIGTERM) << first.errors();

  const std::string second_socket = temp_.file("second.socket");
  VmProcess second = start_vmm(second_socket);
  const CurlReply loaded = curl(second_socket, "PUT", "/snapshot/load",
                                R"({"snapshot_path": ")" + snapshot + R"(", "mem_backend": {"backend_path": ")" + memory +
                                    R"(", "backend_type": "File"}, "resume_vm": true})");
  ASSERT_EQ(loaded.status, 204) << loaded.body << second.errors();
  EXPECT_EQ(state_of(second_socket), "Running");
  second.write_input("p");
  EXPECT_TRUE(second.wait_for_output(" mark=77\n", 30s)) << second.output() << second.errors();
  second.send_signal(SIGTERM);
  EXPECT_EQ(second.wait(10s), 128 + SIGTERM) << second.errors();

  // Loaded without resume_vm: paused before its first instruction, until PATCH /vm.
  const std::string third_socket = temp_.file("third.socket");
  VmProcess third = start_vmm(third_socket);
  ASSERT_EQ(curl(third_socket, "PUT", "/snapshot/load",
                 R"({"snapshot_path": ")" + snapshot + R"(", "mem_file_path": ")" + memory + R"("})")
                .status,
            204);
  EXPECT_EQ(state_of(third_socket), "Paused");
  third.write_input("p");
  EXPECT_FALSE(third.wait_for_output(" mark=77\n", 500ms)) << "a paused guest answered";
  ASSERT_EQ(curl(third_socket, "PATCH", "/vm", R"({"state": "Resumed"})").status, 204);
  EXPECT_TRUE(third.wait_for_output(" mark=77\n", 30s)) << third.output() << third.errors();
  third.send_signal(SIGTERM);
  EXPECT_EQ(third.wait(10s), 128 + SIGTERM) << third.errors();
}

// As Firecracker's guide ends a VM: SendCtrlAltDel types the keys on the
// i8042's keyboard, the guest (which reads its keyboard as a driver does)
// sees Ctrl-Alt-Delete and resets the machine, and the VMM exits.
TEST_F(FirecrackerApi, SendCtrlAltDelReachesTheGuestsKeyboardAndItsResetEndsTheVm) {
  VMHIVE_REQUIRE_KVM();
  VmProcess vm = start_vmm(socket_);
  const std::string keyboard_guest = R"({"kernel_image_path": ")" + guest_path("keyboard") + R"("})";
  ASSERT_EQ(curl(socket_, "PUT", "/boot-source", keyboard_guest).status, 204);
  ASSERT_EQ(curl(socket_, "PUT", "/machine-config", R"({"vcpu_count": 1, "mem_size_mib": 64})").status, 204);
  const CurlReply started = curl(socket_, "PUT", "/actions", R"({"action_type": "InstanceStart"})");
  ASSERT_EQ(started.status, 204) << started.body << vm.errors();
  ASSERT_TRUE(vm.wait_for_output("keyboard: ready\n", 30s)) << vm.output() << vm.errors();
  EXPECT_TRUE(contains(vm.output(), "keyboard: ack fa id ab41\n")) << vm.output();
  const CurlReply pressed = curl(socket_, "PUT", "/actions", R"({"action_type": "SendCtrlAltDel"})");
  EXPECT_EQ(pressed.status, 204) << pressed.body;
  EXPECT_TRUE(vm.wait_for_output("keyboard: ctrl-alt-del\n", 30s)) << vm.output() << vm.errors();
  EXPECT_EQ(vm.wait(30s), 3) << "the guest's reset ends the VM with status 3; " << vm.errors();
}

}  // namespace
}  // namespace vmhive::testing
