#include "fcapi/fc_requests.h"

#include <algorithm>
#include <cctype>
#include <initializer_list>

#include <nlohmann/json.hpp>

#include "config/device_options.h"

namespace vmhive::fcapi {
namespace {

using nlohmann::json;

// Firecracker's wording for a body its deserializer refused, so that tools
// matching on it (or people searching for it) find the same text.
constexpr char kDeserializing[] = "An error occurred when deserializing the json body of a request: ";

Error refused(const std::string& what) { return make_error(ErrorKind::kInvalid, kDeserializing + what + "."); }

// What vmhive does not do, in one shape: "<what> is not supported by vmhive".
Error unsupported(const std::string& what) {
  return make_error(ErrorKind::kInvalid, what + " is not supported by vmhive (docs/firecracker-api.md)");
}

// A member name for a message: quoted as serde does, and short (a hostile
// client chooses it).
std::string ticked(std::string_view name) { return "`" + std::string(name.substr(0, 64)) + "`"; }

// A JSON object whose members are all in `known`.
Result<void> only_known(const json& object, std::initializer_list<const char*> known) {
  if (!object.is_object()) return refused("invalid type: expected a JSON object");
  for (const auto& item : object.items()) {
    if (std::none_of(known.begin(), known.end(), [&](const char* name) { return item.key() == name; })) {
      std::string expected;
      for (const char* name : known) expected += (expected.empty() ? "" : ", ") + ticked(name);
      return refused("unknown field " + ticked(item.key()) + ", expected one of " + expected);
    }
  }
  return {};
}

// The body as such an object.
Result<json> object_of(std::string_view body, std::initializer_list<const char*> known) {
  json document = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return refused("the body is not valid JSON");
  VMHIVE_CHECK(only_known(document, known));
  return document;
}

const json* member(const json& object, const char* name) {
  const auto found = object.find(name);
  return found == object.end() || found->is_null() ? nullptr : &*found;
}

Result<std::optional<std::string>> optional_string(const json& object, const char* name) {
  const json* value = member(object, name);
  if (value == nullptr) return std::optional<std::string>();
  if (!value->is_string()) return refused("invalid type for " + ticked(name) + ", expected a string");
  std::string text = value->get<std::string>();
  // A NUL would cut a path short where the kernel reads it.
  if (text.find('\0') != std::string::npos) return refused(ticked(name) + " contains a NUL character");
  return std::optional<std::string>(std::move(text));
}

Result<std::string> required_string(const json& object, const char* name) {
  auto text = VMHIVE_TRY(optional_string(object, name));
  if (!text) return refused("missing field " + ticked(name));
  return *text;
}

// A path must name something; an empty one is refused here rather than at open.
Result<std::string> required_path(const json& object, const char* name) {
  std::string path = VMHIVE_TRY(required_string(object, name));
  if (path.empty()) return make_error(ErrorKind::kInvalid, ticked(name) + " must not be empty");
  return path;
}

Result<std::optional<bool>> optional_bool(const json& object, const char* name) {
  const json* value = member(object, name);
  if (value == nullptr) return std::optional<bool>();
  if (!value->is_boolean()) return refused("invalid type for " + ticked(name) + ", expected a boolean");
  return std::optional<bool>(value->get<bool>());
}

Result<bool> required_bool(const json& object, const char* name) {
  auto flag = VMHIVE_TRY(optional_bool(object, name));
  if (!flag) return refused("missing field " + ticked(name));
  return *flag;
}

Result<uint64_t> required_unsigned(const json& object, const char* name) {
  const json* value = member(object, name);
  if (value == nullptr) return refused("missing field " + ticked(name));
  if (!value->is_number_unsigned())
    return refused("invalid type for " + ticked(name) + ", expected a non-negative integer");
  return value->get<uint64_t>();
}

// A member vmhive accepts only with the value that changes nothing.
Result<void> only_value(const json& object, const char* name, std::string_view accepted) {
  auto text = VMHIVE_TRY(optional_string(object, name));
  if (text && *text != accepted) return unsupported(std::string(name) + " \"" + text->substr(0, 64) + "\"");
  return {};
}

Result<void> absent(const json& object, const char* name) {
  if (member(object, name) != nullptr) return unsupported(ticked(name));
  return {};
}

}  // namespace

Result<void> check_id(std::string_view id, std::string_view what) {
  const bool ok = !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
  if (!ok) return make_error(ErrorKind::kInvalid, "Invalid " + std::string(what) + ": it must be 1 to 64 of A-Z, a-z, 0-9 and _");
  return {};
}

Result<BootSource> parse_boot_source(std::string_view body) {
  const json object = VMHIVE_TRY(object_of(body, {"kernel_image_path", "initrd_path", "boot_args"}));
  BootSource source;
  source.kernel_image_path = VMHIVE_TRY(required_path(object, "kernel_image_path"));
  source.initrd_path = VMHIVE_TRY(optional_string(object, "initrd_path")).value_or("");
  source.boot_args = VMHIVE_TRY(optional_string(object, "boot_args"));
  return source;
}

Result<MachineConfig> parse_machine_config(std::string_view body) {
  const json object = VMHIVE_TRY(
      object_of(body, {"vcpu_count", "mem_size_mib", "smt", "track_dirty_pages", "cpu_template", "huge_pages"}));
  MachineConfig machine;
  const uint64_t vcpus = VMHIVE_TRY(required_unsigned(object, "vcpu_count"));
  // vmhive's own range (the MADT's 8-bit APIC ids), wider than Firecracker's 32.
  if (vcpus < 1 || vcpus > 254) return make_error(ErrorKind::kInvalid, "The vCPU number is invalid! vcpu_count must be 1 to 254");
  machine.vcpu_count = static_cast<uint32_t>(vcpus);
  machine.mem_size_mib = VMHIVE_TRY(required_unsigned(object, "mem_size_mib"));
  if (machine.mem_size_mib < 16 || machine.mem_size_mib > (uint64_t{1} << 30))
    return make_error(ErrorKind::kInvalid, "The memory size (MiB) is invalid: vmhive needs at least 16");
  if (VMHIVE_TRY(optional_bool(object, "smt")).value_or(false)) return unsupported("smt true");
  (void)VMHIVE_TRY(optional_bool(object, "track_dirty_pages"));
  VMHIVE_CHECK(only_value(object, "cpu_template", "None"));
  VMHIVE_CHECK(only_value(object, "huge_pages", "None"));
  return machine;
}

Result<Drive> parse_drive(std::string_view body) {
  const json object = VMHIVE_TRY(object_of(body, {"drive_id", "partuuid", "is_root_device", "cache_type", "is_read_only",
                                                  "path_on_host", "rate_limiter", "io_engine", "socket"}));
  Drive drive;
  drive.drive_id = VMHIVE_TRY(required_string(object, "drive_id"));
  drive.is_root_device = VMHIVE_TRY(required_bool(object, "is_root_device"));
  VMHIVE_CHECK(absent(object, "socket"));  // vhost-user-block
  VMHIVE_CHECK(absent(object, "partuuid"));
  VMHIVE_CHECK(absent(object, "rate_limiter"));
  VMHIVE_CHECK(only_value(object, "io_engine", "Sync"));
  // vmhive always offers VIRTIO_BLK_F_FLUSH and honours it (Writeback's
  // behaviour); "Unsafe" asks for less and gets that.
  if (auto cache = VMHIVE_TRY(optional_string(object, "cache_type")); cache && *cache != "Unsafe" && *cache != "Writeback")
    return refused("unknown variant " + ticked(*cache) + " for `cache_type`, expected `Unsafe` or `Writeback`");
  drive.path_on_host = VMHIVE_TRY(required_path(object, "path_on_host"));
  drive.is_read_only = VMHIVE_TRY(optional_bool(object, "is_read_only")).value_or(false);
  return drive;
}

Result<NetworkInterface> parse_network_interface(std::string_view body) {
  const json object = VMHIVE_TRY(
      object_of(body, {"iface_id", "host_dev_name", "guest_mac", "mtu", "rx_rate_limiter", "tx_rate_limiter"}));
  NetworkInterface net;
  net.iface_id = VMHIVE_TRY(required_string(object, "iface_id"));
  net.host_dev_name = VMHIVE_TRY(required_string(object, "host_dev_name"));
  VMHIVE_CHECK(config::check_tap_name(net.host_dev_name, "host_dev_name"));
  if (auto mac = VMHIVE_TRY(optional_string(object, "guest_mac")))
    net.guest_mac = VMHIVE_TRY(config::parse_mac(*mac, "guest_mac"));
  VMHIVE_CHECK(absent(object, "mtu"));
  VMHIVE_CHECK(absent(object, "rx_rate_limiter"));
  VMHIVE_CHECK(absent(object, "tx_rate_limiter"));
  return net;
}

Result<ActionType> parse_action(std::string_view body) {
  const json object = VMHIVE_TRY(object_of(body, {"action_type"}));
  const std::string type = VMHIVE_TRY(required_string(object, "action_type"));
  if (type == "InstanceStart") return ActionType::kInstanceStart;
  if (type == "SendCtrlAltDel") return ActionType::kSendCtrlAltDel;
  if (type == "FlushMetrics") return ActionType::kFlushMetrics;
  return refused("unknown variant " + ticked(type) + ", expected one of `FlushMetrics`, `InstanceStart`, `SendCtrlAltDel`");
}

Result<VmStateRequest> parse_vm_state(std::string_view body) {
  const json object = VMHIVE_TRY(object_of(body, {"state"}));
  const std::string state = VMHIVE_TRY(required_string(object, "state"));
  if (state == "Paused") return VmStateRequest::kPaused;
  if (state == "Resumed") return VmStateRequest::kResumed;
  return refused("unknown variant " + ticked(state) + ", expected `Paused` or `Resumed`");
}

Result<SnapshotCreate> parse_snapshot_create(std::string_view body) {
  const json object = VMHIVE_TRY(object_of(body, {"snapshot_path", "mem_file_path", "snapshot_type"}));
  SnapshotCreate create;
  create.snapshot_path = VMHIVE_TRY(required_path(object, "snapshot_path"));
  create.mem_file_path = VMHIVE_TRY(required_path(object, "mem_file_path"));
  if (auto type = VMHIVE_TRY(optional_string(object, "snapshot_type")); type && *type != "Full") {
    if (*type == "Diff") return unsupported("snapshot_type \"Diff\"");
    return refused("unknown variant " + ticked(*type) + ", expected `Full` or `Diff`");
  }
  return create;
}

Result<SnapshotLoad> parse_snapshot_load(std::string_view body) {
  const json object = VMHIVE_TRY(object_of(
      body, {"snapshot_path", "mem_file_path", "mem_backend", "resume_vm", "enable_diff_snapshots", "track_dirty_pages",
             "network_overrides", "vsock_override", "clock_realtime", "huge_pages"}));
  SnapshotLoad load;
  load.snapshot_path = VMHIVE_TRY(required_path(object, "snapshot_path"));
  load.resume_vm = VMHIVE_TRY(optional_bool(object, "resume_vm")).value_or(false);
  const json* backend = member(object, "mem_backend");
  const bool has_file = member(object, "mem_file_path") != nullptr;
  if ((backend != nullptr) == has_file)
    return make_error(ErrorKind::kInvalid, "Exactly one of mem_backend and mem_file_path must be given");
  if (has_file) {
    load.mem_file_path = VMHIVE_TRY(required_path(object, "mem_file_path"));
  } else {
    const json& memory = *backend;
    VMHIVE_CHECK(only_known(memory, {"backend_type", "backend_path"}));
    const std::string type = VMHIVE_TRY(required_string(memory, "backend_type"));
    if (type == "Uffd") return unsupported("mem_backend backend_type \"Uffd\"");
    if (type != "File") return refused("unknown variant " + ticked(type) + ", expected `File` or `Uffd`");
    load.mem_file_path = VMHIVE_TRY(required_path(memory, "backend_path"));
  }
  // Dirty-page tracking is only for diff snapshots, which vmhive does not
  // write: asking for it changes nothing, so it is accepted.
  (void)VMHIVE_TRY(optional_bool(object, "enable_diff_snapshots"));
  (void)VMHIVE_TRY(optional_bool(object, "track_dirty_pages"));
  if (VMHIVE_TRY(optional_bool(object, "clock_realtime")).value_or(false)) return unsupported("clock_realtime true");
  VMHIVE_CHECK(absent(object, "network_overrides"));
  VMHIVE_CHECK(absent(object, "vsock_override"));
  if (auto pages = VMHIVE_TRY(optional_string(object, "huge_pages")); pages && *pages != "Snapshot" && *pages != "None")
    return unsupported("huge_pages \"" + pages->substr(0, 64) + "\"");
  return load;
}

Result<Logger> parse_logger(std::string_view body) {
  const json object = VMHIVE_TRY(object_of(body, {"log_path", "level", "show_level", "show_log_origin", "module"}));
  Logger logger;
  // Firecracker logs to stdout without a path; vmhive's lines go to stderr
  // already, so a logger without a path would change nothing: refused.
  auto path = VMHIVE_TRY(optional_string(object, "log_path"));
  if (!path || path->empty()) return unsupported("a logger without log_path");
  logger.log_path = *path;
  if (auto level = VMHIVE_TRY(optional_string(object, "level"))) {
    std::string lower = level->substr(0, 16);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
    static constexpr const char* kLevels[] = {"error", "warning", "warn", "info", "debug", "trace", "off"};
    if (std::none_of(std::begin(kLevels), std::end(kLevels), [&](const char* name) { return lower == name; }) ||
        level->size() > 16)
      return refused("unknown variant " + ticked(*level) + " for `level`");
  }
  (void)VMHIVE_TRY(optional_bool(object, "show_level"));
  (void)VMHIVE_TRY(optional_bool(object, "show_log_origin"));
  (void)VMHIVE_TRY(optional_string(object, "module"));
  return logger;
}

Result<Metrics> parse_metrics(std::string_view body) {
  const json object = VMHIVE_TRY(object_of(body, {"metrics_path", "emit_id", "properties"}));
  Metrics metrics;
  metrics.metrics_path = VMHIVE_TRY(required_path(object, "metrics_path"));
  if (VMHIVE_TRY(optional_bool(object, "emit_id")).value_or(false)) return unsupported("emit_id true");
  VMHIVE_CHECK(absent(object, "properties"));
  return metrics;
}

}  // namespace vmhive::fcapi
