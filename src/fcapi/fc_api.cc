#include "fcapi/fc_api.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "common/size_parse.h"
#include "fcapi/fc_snapshot_files.h"

namespace vmhive::fcapi {
namespace {

using nlohmann::json;

// Firecracker's wording for the two state errors.
constexpr char kNotAfterStart[] = "The requested operation is not supported after starting the microVM.";
constexpr char kNotBeforeStart[] = "The requested operation is not supported before starting the microVM.";

// Firecracker's resources vmhive does not serve (or serves only some
// methods of): asking for them gets "not supported", anything else
// Firecracker's "Invalid request method and/or path".
constexpr const char* kFirecrackerResources[] = {
    "actions", "balloon", "boot-source", "cpu-config", "drives", "entropy", "hotplug", "logger", "machine-config",
    "metrics", "mmds", "network-interfaces", "pmem", "serial", "snapshot", "version", "vm", "vsock"};

Error invalid(std::string message) { return make_error(ErrorKind::kInvalid, std::move(message)); }

http::Response no_content() {
  http::Response response;
  response.status = 204;
  response.content_type.clear();
  return response;
}

// The path's segments: "/drives/rootfs" -> {"drives", "rootfs"}.
std::vector<std::string_view> segments_of(std::string_view path) {
  std::vector<std::string_view> segments;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const size_t end = std::min(path.find('/'), path.size());
    segments.push_back(path.substr(0, end));
    path.remove_prefix(end);
  }
  return segments;
}

// A file the VMM will open at start, checked now as Firecracker does, so
// the error comes with the request that named it.
Result<void> check_readable(const std::string& path, const std::string& what) {
  if (::access(path.c_str(), R_OK) != 0)
    return invalid("The " + what + " " + path + " cannot be opened: " + std::strerror(errno));
  return {};
}

}  // namespace

const char* state_name(InstanceState state) {
  switch (state) {
    case InstanceState::kNotStarted: return "Not started";
    case InstanceState::kRunning: return "Running";
    case InstanceState::kPaused: return "Paused";
  }
  return "Not started";
}

std::string fault_body(std::string_view message) {
  // A message can quote what a client sent, which need not be UTF-8.
  return json{{"fault_message", message}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

FcApi::FcApi(Vmm& vmm, config::VmSpec base, std::string id) : vmm_(vmm), base_(std::move(base)), id_(std::move(id)) {}

InstanceState FcApi::state() const {
  if (!started_) return InstanceState::kNotStarted;
  if (const control::VmController* controller = vmm_.controller()) {
    return controller->status().state == control::VmState::kPaused ? InstanceState::kPaused : InstanceState::kRunning;
  }
  return loaded_paused_ ? InstanceState::kPaused : InstanceState::kRunning;
}

http::Response FcApi::handle(const http::Request& request) {
  auto routed = route(request);
  if (routed.ok()) return std::move(*routed);
  http::Response response;
  response.status = 400;
  response.body = fault_body(routed.error().message);
  return response;
}

Result<http::Response> FcApi::route(const http::Request& request) {
  const std::vector<std::string_view> path = segments_of(request.path);
  const std::string& method = request.method;
  const std::string_view body = request.body;
  const std::string_view resource = path.empty() ? std::string_view() : path[0];
  if (path.empty() && method == "GET") {
    http::Response response;
    response.body = json{{"app_name", kAppName}, {"id", id_}, {"state", state_name(state())}, {"vmm_version", kVmmVersion}}
                        .dump(-1, ' ', false, json::error_handler_t::replace);
    return response;
  }
  if (method == "GET" && path.size() == 1 && resource == "machine-config") {
    http::Response response;
    response.body = machine_config_json();
    return response;
  }
  if (method == "PUT" && path.size() == 1) {
    if (resource == "actions") {
      VMHIVE_CHECK(action(body));
      return no_content();
    }
    if (resource == "boot-source") {
      VMHIVE_CHECK(require_not_started());
      BootSource source = VMHIVE_TRY(parse_boot_source(body));
      VMHIVE_CHECK(check_readable(source.kernel_image_path, "kernel file"));
      if (!source.initrd_path.empty()) VMHIVE_CHECK(check_readable(source.initrd_path, "initrd file"));
      boot_source_ = std::move(source);
      configured_ = true;
      return no_content();
    }
    if (resource == "machine-config") {
      VMHIVE_CHECK(require_not_started());
      machine_ = VMHIVE_TRY(parse_machine_config(body));
      configured_ = true;
      return no_content();
    }
    if (resource == "logger" || resource == "metrics") {
      VMHIVE_CHECK(require_not_started());
      if (resource == "logger") {
        if (logger_) return invalid("The logger is already configured; vmhive configures it once");
        const Logger logger = VMHIVE_TRY(parse_logger(body));
        VMHIVE_CHECK(vmm_.open_logger(logger.log_path));
        logger_ = true;
      } else {
        if (metrics_) return invalid("Reinitialization of metrics not allowed.");
        const Metrics metrics = VMHIVE_TRY(parse_metrics(body));
        VMHIVE_CHECK(vmm_.open_metrics(metrics.metrics_path));
        metrics_ = true;
      }
      return no_content();
    }
  }
  if (method == "PUT" && path.size() == 2) {
    if (resource == "drives") {
      VMHIVE_CHECK(put_drive(path[1], body));
      return no_content();
    }
    if (resource == "network-interfaces") {
      VMHIVE_CHECK(put_network_interface(path[1], body));
      return no_content();
    }
    if (resource == "snapshot" && path[1] == "create") {
      VMHIVE_CHECK(create_snapshot(body));
      return no_content();
    }
    if (resource == "snapshot" && path[1] == "load") {
      VMHIVE_CHECK(load_snapshot(body));
      return no_content();
    }
  }
  if (method == "PATCH" && path.size() == 1 && resource == "vm") {
    VMHIVE_CHECK(patch_vm(body));
    return no_content();
  }
  const std::string shown = method.substr(0, 16) + " " + request.path.substr(0, 256);
  if (std::any_of(std::begin(kFirecrackerResources), std::end(kFirecrackerResources),
                  [&](const char* name) { return resource == name; }))
    return invalid(shown + " is not supported by vmhive (docs/firecracker-api.md)");
  return invalid("Invalid request method and/or path: " + shown + ".");
}

std::string FcApi::machine_config_json() const {
  // What the VM gets (or got): what was PUT, else the command line's.
  uint64_t mem_size_mib = 0;
  if (machine_) {
    mem_size_mib = machine_->mem_size_mib;
  } else if (auto bytes = parse_size(base_.mem, 1 << 20); bytes.ok()) {
    mem_size_mib = *bytes >> 20;
  }
  return json{{"vcpu_count", machine_ ? machine_->vcpu_count : base_.cpus},
              {"mem_size_mib", mem_size_mib},
              {"smt", false},
              {"track_dirty_pages", false},
              {"huge_pages", "None"}}
      .dump();
}

Result<void> FcApi::require_not_started() const {
  if (started_) return invalid(kNotAfterStart);
  return {};
}

Result<control::VmController*> FcApi::require_started() const {
  if (!started_) return invalid(kNotBeforeStart);
  control::VmController* controller = vmm_.controller();
  if (controller == nullptr) return invalid("The microVM is starting; try again");
  return controller;
}

Result<void> FcApi::put_drive(std::string_view id, std::string_view body) {
  VMHIVE_CHECK(require_not_started());
  VMHIVE_CHECK(check_id(id, "drive id"));
  Drive drive = VMHIVE_TRY(parse_drive(body));
  if (drive.drive_id != id) return invalid("The id from the path does not match the id from the body!");
  VMHIVE_CHECK(check_readable(drive.path_on_host, "drive file"));
  const auto same = [&](const Drive& other) { return other.drive_id == drive.drive_id; };
  if (drive.is_root_device &&
      std::any_of(drives_.begin(), drives_.end(), [&](const Drive& other) { return other.is_root_device && !same(other); }))
    return invalid("A root block device already exists!");
  if (auto existing = std::find_if(drives_.begin(), drives_.end(), same); existing != drives_.end()) {
    *existing = std::move(drive);
  } else {
    drives_.push_back(std::move(drive));
  }
  configured_ = true;
  return {};
}

Result<void> FcApi::put_network_interface(std::string_view id, std::string_view body) {
  VMHIVE_CHECK(require_not_started());
  VMHIVE_CHECK(check_id(id, "interface id"));
  NetworkInterface net = VMHIVE_TRY(parse_network_interface(body));
  if (net.iface_id != id) return invalid("The id from the path does not match the id from the body!");
  for (const NetworkInterface& other : nets_) {
    if (other.iface_id != net.iface_id && other.host_dev_name == net.host_dev_name)
      return invalid("The host device " + net.host_dev_name + " is already used by interface " + other.iface_id);
  }
  const auto same = [&](const NetworkInterface& other) { return other.iface_id == net.iface_id; };
  if (auto existing = std::find_if(nets_.begin(), nets_.end(), same); existing != nets_.end()) {
    *existing = std::move(net);
  } else {
    nets_.push_back(std::move(net));
  }
  configured_ = true;
  return {};
}

Result<config::VmSpec> FcApi::boot_spec() const {
  if (!boot_source_) return invalid("Cannot start microvm without kernel configuration.");
  config::VmSpec spec = base_;
  spec.kernel = boot_source_->kernel_image_path;
  spec.initrd = boot_source_->initrd_path;
  spec.cmdline_given = boot_source_->boot_args.has_value();
  spec.cmdline = boot_source_->boot_args.value_or(config::kDefaultLinuxCmdline);
  if (machine_) {
    spec.cpus = machine_->vcpu_count;
    spec.mem = std::to_string(machine_->mem_size_mib) + "M";
  }
  // The root device is the guest's first disk, /dev/vda, and the command
  // line says so (Firecracker's "root=/dev/vda ro|rw").
  std::vector<const Drive*> ordered;
  for (const Drive& drive : drives_) if (drive.is_root_device) ordered.push_back(&drive);
  for (const Drive& drive : drives_) if (!drive.is_root_device) ordered.push_back(&drive);
  spec.disks.clear();
  for (const Drive* drive : ordered) spec.disks.push_back(virtio::DiskSpec{drive->path_on_host, drive->is_read_only, {}});
  if (!ordered.empty() && ordered.front()->is_root_device) {
    spec.cmdline += std::string(" root=/dev/vda ") + (ordered.front()->is_read_only ? "ro" : "rw");
    spec.cmdline_given = true;
  }
  spec.nets.clear();
  for (const NetworkInterface& net : nets_)
    spec.nets.push_back(NetSpec{.tap = net.host_dev_name, .socket_fd = -1, .mac = net.guest_mac});
  return spec;
}

Result<void> FcApi::action(std::string_view body) {
  const ActionType type = VMHIVE_TRY(parse_action(body));
  switch (type) {
    case ActionType::kInstanceStart: {
      VMHIVE_CHECK(require_not_started());
      const config::VmSpec spec = VMHIVE_TRY(boot_spec());
      if (auto booted = vmm_.boot(spec); !booted.ok())
        return invalid("Start microvm error: " + booted.error().message);
      started_ = true;
      return {};
    }
    case ActionType::kSendCtrlAltDel: {
      // As Firecracker: the keys on the i8042's keyboard; a guest that
      // reboots on them ends the VM (a reset stops vmhive, too).
      control::VmController* controller = VMHIVE_TRY(require_started());
      if (auto pressed = controller->press_ctrl_alt_del(); !pressed.ok())
        return invalid("SendCtrlAltDel: " + pressed.error().message);
      return {};
    }
    case ActionType::kFlushMetrics:
      if (!metrics_) return invalid("FlushMetrics needs the metrics system: PUT /metrics first");
      return vmm_.flush_metrics(state());
  }
  return {};
}

Result<void> FcApi::patch_vm(std::string_view body) {
  const VmStateRequest wanted = VMHIVE_TRY(parse_vm_state(body));
  control::VmController* controller = VMHIVE_TRY(require_started());
  auto changed = wanted == VmStateRequest::kPaused ? controller->pause() : controller->resume();
  if (!changed.ok())
    return invalid(std::string(wanted == VmStateRequest::kPaused ? "Failed to pause" : "Failed to resume") +
                   " the microVM: " + changed.error().message);
  return {};
}

Result<void> FcApi::create_snapshot(std::string_view body) {
  const SnapshotCreate create = VMHIVE_TRY(parse_snapshot_create(body));
  control::VmController* controller = VMHIVE_TRY(require_started());
  if (state() != InstanceState::kPaused)
    return invalid("Cannot create a snapshot: the microVM is not paused (PATCH /vm {\"state\": \"Paused\"} first)");
  // The VM stays paused: `resume` here means "do not stop it afterwards".
  if (auto written = controller->snapshot(create.snapshot_path, /*resume=*/true); !written.ok())
    return invalid("Cannot create a snapshot: " + written.error().message);
  return link_memory_file(create.snapshot_path, create.mem_file_path);
}

Result<void> FcApi::load_snapshot(std::string_view body) {
  const SnapshotLoad load = VMHIVE_TRY(parse_snapshot_load(body));
  VMHIVE_CHECK(require_not_started());
  if (configured_) return invalid("Loading a microVM snapshot not allowed after configuring boot-specific resources.");
  VMHIVE_CHECK(check_memory_file(load.snapshot_path, load.mem_file_path));
  if (auto loaded = vmm_.load_snapshot(load.snapshot_path, load.resume_vm); !loaded.ok())
    return invalid("Loading a microVM snapshot failed: " + loaded.error().message);
  started_ = true;
  loaded_paused_ = !load.resume_vm;
  return {};
}

}  // namespace vmhive::fcapi
