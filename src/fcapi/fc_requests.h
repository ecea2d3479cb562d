// The request bodies of Firecracker's API (src/firecracker/swagger/
// firecracker.yaml, its published OpenAPI description) that vmhive serves,
// read strictly into plain structs: an unknown member, a missing required
// one or a wrong type is an error whose message has Firecracker's wording
// ("An error occurred when deserializing the json body of a request: ...");
// a member Firecracker knows but vmhive does not do (rate limiters, diff
// snapshots, a Uffd memory backend, ...) is an error naming it, never
// silently dropped (docs/firecracker-api.md lists them). Pure: no files are
// touched, so fuzz_firecracker_api can drive every parser.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace vmhive::fcapi {

// PUT /boot-source
struct BootSource {
  std::string kernel_image_path;
  std::string initrd_path;  // empty: none
  std::optional<std::string> boot_args;  // none: vmhive's default command line
};

// PUT /machine-config. smt must be false (vmhive presents no SMT siblings);
// track_dirty_pages is accepted either way and does nothing (there are no
// diff snapshots to track pages for); cpu_template and huge_pages only as
// "None".
struct MachineConfig {
  uint32_t vcpu_count = 1;
  uint64_t mem_size_mib = 0;
};

// PUT /drives/{drive_id}: a virtio-blk disk on a raw image.
struct Drive {
  std::string drive_id;
  std::string path_on_host;
  bool is_root_device = false;
  bool is_read_only = false;
};

// PUT /network-interfaces/{iface_id}: a virtio-net device on a tap.
struct NetworkInterface {
  std::string iface_id;
  std::string host_dev_name;
  std::optional<std::array<uint8_t, 6>> guest_mac;
};

// PUT /actions
enum class ActionType { kInstanceStart, kSendCtrlAltDel, kFlushMetrics };

// PATCH /vm
enum class VmStateRequest { kPaused, kResumed };

// PUT /snapshot/create (snapshot_type "Full", the default, only).
struct SnapshotCreate {
  std::string snapshot_path;
  std::string mem_file_path;
};

// PUT /snapshot/load: the memory file from mem_backend (backend_type "File")
// or the deprecated mem_file_path, exactly one of them.
struct SnapshotLoad {
  std::string snapshot_path;
  std::string mem_file_path;
  bool resume_vm = false;
};

// PUT /logger. level, show_level, show_log_origin and module are checked
// and accepted but change nothing: vmhive's log lines have no levels.
struct Logger {
  std::string log_path;
};

// PUT /metrics. emit_id and properties are not supported.
struct Metrics {
  std::string metrics_path;
};

// Ids in paths and bodies: 1 to 64 of [A-Za-z0-9_], as Firecracker allows.
Result<void> check_id(std::string_view id, std::string_view what);

// Each returns the parsed body, or an error whose message is the
// fault_message to answer with (status 400).
Result<BootSource> parse_boot_source(std::string_view body);
Result<MachineConfig> parse_machine_config(std::string_view body);
Result<Drive> parse_drive(std::string_view body);
Result<NetworkInterface> parse_network_interface(std::string_view body);
Result<ActionType> parse_action(std::string_view body);
Result<VmStateRequest> parse_vm_state(std::string_view body);
Result<SnapshotCreate> parse_snapshot_create(std::string_view body);
Result<SnapshotLoad> parse_snapshot_load(std::string_view body);
Result<Logger> parse_logger(std::string_view body);
Result<Metrics> parse_metrics(std::string_view body);

}  // namespace vmhive::fcapi
