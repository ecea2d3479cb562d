// Firecracker's request bodies (its swagger/firecracker.yaml): what each
// parser takes, and that every refusal carries a message a client can act on.
#include "fcapi/fc_requests.h"

#include <gtest/gtest.h>

#include <string>

namespace vmhive::fcapi {
namespace {

::testing::AssertionResult refused_with(const Error& error, const std::string& text) {
  if (error.message.find(text) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "message \"" << error.message << "\" lacks \"" << text << "\"";
}

template <class T>
::testing::AssertionResult refuses(const Result<T>& result, const std::string& text) {
  if (result.ok()) return ::testing::AssertionFailure() << "accepted, expected an error with \"" << text << "\"";
  return refused_with(result.error(), text);
}

TEST(FcRequests, BootSourceAsTheGettingStartedGuideSendsIt) {
  auto source = parse_boot_source(R"({"kernel_image_path": "./vmlinux", "boot_args": "console=ttyS0 reboot=k panic=1"})");
  ASSERT_TRUE(source.ok()) << source.error().message;
  EXPECT_EQ(source->kernel_image_path, "./vmlinux");
  EXPECT_EQ(source->initrd_path, "");
  EXPECT_EQ(source->boot_args, "console=ttyS0 reboot=k panic=1");
  auto bare = parse_boot_source(R"({"kernel_image_path": "/k", "initrd_path": "/i"})");
  ASSERT_TRUE(bare.ok());
  EXPECT_FALSE(bare->boot_args.has_value());
  EXPECT_EQ(bare->initrd_path, "/i");
}

TEST(FcRequests, StrictAsFirecrackersDeserializer) {
  EXPECT_TRUE(refuses(parse_boot_source(R"({"kernel_image_path": "/k", "kernel": 1})"),
                      "An error occurred when deserializing the json body of a request: unknown field `kernel`"));
  EXPECT_TRUE(refuses(parse_boot_source(R"({"boot_args": ""})"), "missing field `kernel_image_path`"));
  EXPECT_TRUE(refuses(parse_boot_source(R"({"kernel_image_path": 7})"), "expected a string"));
  EXPECT_TRUE(refuses(parse_boot_source(R"({"kernel_image_path": "/k",})"), "not valid JSON"));
  EXPECT_TRUE(refuses(parse_boot_source(""), "not valid JSON"));
  EXPECT_TRUE(refuses(parse_boot_source("[]"), "expected a JSON object"));
  EXPECT_TRUE(refuses(parse_boot_source(R"({"kernel_image_path": ""})"), "must not be empty"));
  EXPECT_TRUE(refuses(parse_boot_source(R"({"kernel_image_path": "/k\u0000/x"})"), "NUL"));
}

TEST(FcRequests, MachineConfig) {
  auto machine = parse_machine_config(R"({"vcpu_count": 2, "mem_size_mib": 1024, "smt": false, "track_dirty_pages": true})");
  ASSERT_TRUE(machine.ok()) << machine.error().message;
  EXPECT_EQ(machine->vcpu_count, 2u);
  EXPECT_EQ(machine->mem_size_mib, 1024u);
  EXPECT_TRUE(parse_machine_config(R"({"vcpu_count": 1, "mem_size_mib": 128, "cpu_template": "None"})").ok());
  EXPECT_TRUE(refuses(parse_machine_config(R"({"vcpu_count": 0, "mem_size_mib": 128})"), "vcpu_count"));
  EXPECT_TRUE(refuses(parse_machine_config(R"({"vcpu_count": 255, "mem_size_mib": 128})"), "vcpu_count"));
  EXPECT_TRUE(refuses(parse_machine_config(R"({"vcpu_count": -1, "mem_size_mib": 128})"), "non-negative integer"));
  EXPECT_TRUE(refuses(parse_machine_config(R"({"vcpu_count": 1.5, "mem_size_mib": 128})"), "non-negative integer"));
  EXPECT_TRUE(refuses(parse_machine_config(R"({"vcpu_count": 1, "mem_size_mib": 8})"), "at least 16"));
  EXPECT_TRUE(refuses(parse_machine_config(R"({"vcpu_count": 1})"), "missing field `mem_size_mib`"));
  EXPECT_TRUE(refuses(parse_machine_config(R"({"vcpu_count": 2, "mem_size_mib": 128, "smt": true})"),
                      "smt true is not supported by vmhive"));
  EXPECT_TRUE(refuses(parse_machine_config(R"({"vcpu_count": 1, "mem_size_mib": 128, "cpu_template": "T2"})"),
                      "cpu_template \"T2\" is not supported"));
  EXPECT_TRUE(refuses(parse_machine_config(R"({"vcpu_count": 1, "mem_size_mib": 128, "huge_pages": "2M"})"),
                      "not supported"));
}

TEST(FcRequests, Drive) {
  auto drive = parse_drive(
      R"({"drive_id": "rootfs", "path_on_host": "/img/rootfs.ext4", "is_root_device": true, "is_read_only": false})");
  ASSERT_TRUE(drive.ok()) << drive.error().message;
  EXPECT_EQ(drive->drive_id, "rootfs");
  EXPECT_EQ(drive->path_on_host, "/img/rootfs.ext4");
  EXPECT_TRUE(drive->is_root_device);
  EXPECT_FALSE(drive->is_read_only);
  EXPECT_TRUE(parse_drive(R"({"drive_id": "d", "path_on_host": "/x", "is_root_device": false, "cache_type": "Writeback",
                              "io_engine": "Sync"})").ok());
  EXPECT_TRUE(refuses(parse_drive(R"({"drive_id": "d", "path_on_host": "/x"})"), "missing field `is_root_device`"));
  EXPECT_TRUE(refuses(parse_drive(R"({"drive_id": "d", "is_root_device": false, "path_on_host": "/x", "partuuid": "1"})"),
                      "`partuuid` is not supported by vmhive"));
  EXPECT_TRUE(refuses(parse_drive(R"({"drive_id": "d", "is_root_device": false, "path_on_host": "/x",
                                      "rate_limiter": {"bandwidth": {"size": 1, "refill_time": 1}}})"),
                      "`rate_limiter` is not supported"));
  EXPECT_TRUE(refuses(parse_drive(R"({"drive_id": "d", "is_root_device": false, "path_on_host": "/x", "io_engine": "Async"})"),
                      "io_engine \"Async\" is not supported"));
  EXPECT_TRUE(refuses(parse_drive(R"({"drive_id": "d", "is_root_device": false, "socket": "/s"})"), "`socket`"));
}

TEST(FcRequests, NetworkInterface) {
  auto net = parse_network_interface(R"({"iface_id": "net1", "guest_mac": "06:00:AC:10:00:02", "host_dev_name": "tap0"})");
  ASSERT_TRUE(net.ok()) << net.error().message;
  EXPECT_EQ(net->host_dev_name, "tap0");
  ASSERT_TRUE(net->guest_mac.has_value());
  EXPECT_EQ((*net->guest_mac)[5], 0x02);
  EXPECT_FALSE(parse_network_interface(R"({"iface_id": "n", "host_dev_name": "tap0"})")->guest_mac.has_value());
  EXPECT_TRUE(refuses(parse_network_interface(R"({"iface_id": "n", "host_dev_name": "tap0", "guest_mac": "zz"})"),
                      "guest_mac"));
  EXPECT_TRUE(refuses(parse_network_interface(R"({"iface_id": "n", "host_dev_name": "tap0", "mtu": 1400})"),
                      "`mtu` is not supported"));
  EXPECT_TRUE(refuses(parse_network_interface(R"({"iface_id": "n", "host_dev_name": "a/b"})"), "host_dev_name"));
}

TEST(FcRequests, ActionsAndVmState) {
  EXPECT_EQ(*parse_action(R"({"action_type": "InstanceStart"})"), ActionType::kInstanceStart);
  EXPECT_EQ(*parse_action(R"({"action_type": "SendCtrlAltDel"})"), ActionType::kSendCtrlAltDel);
  EXPECT_EQ(*parse_action(R"({"action_type": "FlushMetrics"})"), ActionType::kFlushMetrics);
  EXPECT_TRUE(refuses(parse_action(R"({"action_type": "Reboot"})"), "unknown variant `Reboot`"));
  EXPECT_EQ(*parse_vm_state(R"({"state": "Paused"})"), VmStateRequest::kPaused);
  EXPECT_EQ(*parse_vm_state(R"({"state": "Resumed"})"), VmStateRequest::kResumed);
  EXPECT_TRUE(refuses(parse_vm_state(R"({"state": "paused"})"), "unknown variant `paused`"));
}

TEST(FcRequests, Snapshots) {
  auto create = parse_snapshot_create(R"({"snapshot_type": "Full", "snapshot_path": "./snap", "mem_file_path": "./mem"})");
  ASSERT_TRUE(create.ok()) << create.error().message;
  EXPECT_EQ(create->snapshot_path, "./snap");
  EXPECT_EQ(create->mem_file_path, "./mem");
  EXPECT_TRUE(refuses(parse_snapshot_create(R"({"snapshot_type": "Diff", "snapshot_path": "s", "mem_file_path": "m"})"),
                      "snapshot_type \"Diff\" is not supported"));
  EXPECT_TRUE(refuses(parse_snapshot_create(R"({"snapshot_path": "s"})"), "missing field `mem_file_path`"));

  auto load = parse_snapshot_load(
      R"({"snapshot_path": "./snap", "mem_backend": {"backend_path": "./mem", "backend_type": "File"}, "resume_vm": true})");
  ASSERT_TRUE(load.ok()) << load.error().message;
  EXPECT_EQ(load->mem_file_path, "./mem");
  EXPECT_TRUE(load->resume_vm);
  auto old_style = parse_snapshot_load(R"({"snapshot_path": "s", "mem_file_path": "m", "enable_diff_snapshots": false})");
  ASSERT_TRUE(old_style.ok());
  EXPECT_FALSE(old_style->resume_vm);
  EXPECT_TRUE(refuses(parse_snapshot_load(R"({"snapshot_path": "s"})"), "Exactly one of"));
  EXPECT_TRUE(refuses(parse_snapshot_load(R"({"snapshot_path": "s", "mem_file_path": "m",
                                              "mem_backend": {"backend_path": "m", "backend_type": "File"}})"),
                      "Exactly one of"));
  EXPECT_TRUE(refuses(parse_snapshot_load(R"({"snapshot_path": "s", "mem_backend": {"backend_path": "u", "backend_type": "Uffd"}})"),
                      "\"Uffd\" is not supported"));
  EXPECT_TRUE(refuses(parse_snapshot_load(R"({"snapshot_path": "s", "mem_backend": {"backend_path": "m", "backend_type": "File", "x": 1}})"),
                      "unknown field `x`"));
  EXPECT_TRUE(refuses(parse_snapshot_load(R"({"snapshot_path": "s", "mem_file_path": "m",
                                              "network_overrides": [{"iface_id": "n", "host_dev_name": "tap1"}]})"),
                      "`network_overrides` is not supported"));
}

TEST(FcRequests, LoggerAndMetrics) {
  auto logger = parse_logger(R"({"log_path": "/tmp/fc.log", "level": "Debug", "show_level": true, "show_log_origin": true})");
  ASSERT_TRUE(logger.ok()) << logger.error().message;
  EXPECT_EQ(logger->log_path, "/tmp/fc.log");
  EXPECT_TRUE(parse_logger(R"({"log_path": "/l", "level": "warning"})").ok());
  EXPECT_TRUE(refuses(parse_logger(R"({"log_path": "/l", "level": "Loud"})"), "unknown variant `Loud`"));
  EXPECT_TRUE(refuses(parse_logger(R"({"level": "Info"})"), "without log_path is not supported"));
  EXPECT_EQ(parse_metrics(R"({"metrics_path": "/tmp/m.json"})")->metrics_path, "/tmp/m.json");
  EXPECT_TRUE(refuses(parse_metrics(R"({"metrics_path": "/m", "emit_id": true})"), "emit_id true is not supported"));
  EXPECT_TRUE(refuses(parse_metrics("{}"), "missing field `metrics_path`"));
}

TEST(FcRequests, Ids) {
  EXPECT_TRUE(check_id("rootfs", "drive id").ok());
  EXPECT_TRUE(check_id("net_1", "drive id").ok());
  EXPECT_FALSE(check_id("", "drive id").ok());
  EXPECT_FALSE(check_id("a-b", "drive id").ok());
  EXPECT_FALSE(check_id(std::string(65, 'a'), "drive id").ok());
}

}  // namespace
}  // namespace vmhive::fcapi
