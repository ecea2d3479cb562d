#include "config/vm_spec_json.h"

#include <cstdio>

#include "config/device_options.h"
#include "config/json_fields.h"

namespace vmhive::config {
namespace {

using nlohmann::json;

Result<virtio::DiskSpec> disk_of(const json& value, const std::string& where) {
  virtio::DiskSpec disk;
  VMHIVE_CHECK(members_of(value, where, {"path", "readonly", "overlay"},
                          [&](const std::string& key, const json& member, const std::string& path) -> Result<void> {
                            if (key == "path") disk.path = VMHIVE_TRY(string_of(member, path));
                            if (key == "readonly") disk.read_only = VMHIVE_TRY(bool_of(member, path));
                            if (key == "overlay") disk.overlay_path = VMHIVE_TRY(string_of(member, path));
                            return {};
                          }));
  VMHIVE_CHECK(check_disk_spec(disk, where));
  return disk;
}

Result<NetSpec> net_of(const json& value, const std::string& where) {
  NetSpec net;
  VMHIVE_CHECK(members_of(value, where, {"tap", "fd", "mac"},
                          [&](const std::string& key, const json& member, const std::string& path) -> Result<void> {
                            if (key == "tap") net.tap = VMHIVE_TRY(string_of(member, path));
                            if (key == "fd") {
                              if (!member.is_number_integer() || member.get<int64_t>() < 3 ||
                                  member.get<int64_t>() > kMaxNetFd)
                                return make_error(path + ": a descriptor number from 3 to " +
                                                  std::to_string(kMaxNetFd));
                              net.socket_fd = member.get<int>();
                            }
                            if (key == "mac") {
                              const std::string text = VMHIVE_TRY(string_of(member, path));
                              net.mac = VMHIVE_TRY(parse_mac(text, path));
                            }
                            return {};
                          }));
  VMHIVE_CHECK(check_net_spec(net, where));
  return net;
}

Result<CpuPolicy> cpu_of(const json& value, const std::string& where) {
  CpuPolicy cpu;
  VMHIVE_CHECK(members_of(value, where, {"weight", "cap_percent", "pins"},
                          [&](const std::string& key, const json& member, const std::string& path) -> Result<void> {
                            if (key == "weight") cpu.weight = VMHIVE_TRY(uint_of(member, path, 1, CpuPolicy::kMaxWeight));
                            if (key == "cap_percent") cpu.cap_percent = VMHIVE_TRY(uint_of(member, path, 0, 25400));
                            if (key == "pins") {
                              if (!member.is_array() || member.size() > 254) return bad(path, "must be a list of host CPU numbers");
                              for (size_t i = 0; i < member.size(); ++i)
                                cpu.pins.push_back(VMHIVE_TRY(uint_of(member[i], path + "[" + std::to_string(i) + "]", 0, 4095)));
                            }
                            return {};
                          }));
  return cpu;
}

std::string mac_text(const std::array<uint8_t, 6>& mac) {
  char text[18];
  std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
  return text;
}

}  // namespace

Result<VmSpec> vm_spec_from_json(std::string_view text) {
  if (text.size() > kMaxConfigBytes) return make_error("the configuration is larger than 256 KiB");
  const json document = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return make_error("the configuration is not valid JSON");
  return vm_spec_from_document(document);
}

Result<VmSpec> vm_spec_from_document(const json& document) {
  VmSpec spec;
  VMHIVE_CHECK(members_of(
      document, "",
      {"name", "labels", "kernel", "initrd", "cmdline", "memory", "vcpus", "cpu_template", "console", "console_limit",
       "disks", "nets", "rng", "device_poll_us", "control", "cpu"},
      [&](const std::string& key, const json& member, const std::string& path) -> Result<void> {
        if (key == "name") {
          spec.name = VMHIVE_TRY(string_of(member, path));
          // Given, it must be a name (an empty one too).
          if (auto named = check_name(spec.name); !named.ok()) return named.error();
        }
        if (key == "kernel") spec.kernel = VMHIVE_TRY(string_of(member, path));
        if (key == "initrd") spec.initrd = VMHIVE_TRY(string_of(member, path));
        if (key == "cmdline") {
          spec.cmdline = VMHIVE_TRY(string_of(member, path));
          spec.cmdline_given = true;
        }
        if (key == "memory") spec.mem = VMHIVE_TRY(string_of(member, path));
        if (key == "vcpus") spec.cpus = VMHIVE_TRY(uint_of(member, path, 1, kMaxCpusOption));
        if (key == "cpu_template") spec.cpu_template = VMHIVE_TRY(string_of(member, path));
        if (key == "console") spec.console = VMHIVE_TRY(string_of(member, path));
        if (key == "console_limit") spec.console_limit = VMHIVE_TRY(string_of(member, path));
        if (key == "rng") spec.entropy_device = VMHIVE_TRY(bool_of(member, path));
        if (key == "device_poll_us") spec.device_poll_us = VMHIVE_TRY(uint_of(member, path, 0, kMaxDevicePollUs));
        if (key == "control") spec.control = VMHIVE_TRY(string_of(member, path));
        if (key == "cpu") spec.cpu = VMHIVE_TRY(cpu_of(member, path));
        if (key == "disks" || key == "nets") {
          if (!member.is_array() || member.size() > 16) return bad(path, "must be a list of at most 16");
          for (size_t i = 0; i < member.size(); ++i) {
            const std::string item = path + "[" + std::to_string(i) + "]";
            if (key == "disks") spec.disks.push_back(VMHIVE_TRY(disk_of(member[i], item)));
            if (key == "nets") spec.nets.push_back(VMHIVE_TRY(net_of(member[i], item)));
          }
        }
        if (key == "labels") {
          if (!member.is_object()) return bad(path, "must be an object of strings");
          for (const auto& [label, value] : member.items()) {
            if (!value.is_string()) return bad(path + "." + label.substr(0, 64), "must be a string");
            spec.labels[label] = value.get<std::string>();
          }
        }
        return {};
      }));
  return spec;
}

nlohmann::ordered_json vm_spec_to_json(const VmSpec& spec) {
  nlohmann::ordered_json document;
  if (!spec.name.empty()) document["name"] = spec.name;
  if (!spec.labels.empty()) document["labels"] = spec.labels;
  if (!spec.kernel.empty()) document["kernel"] = spec.kernel;
  if (!spec.initrd.empty()) document["initrd"] = spec.initrd;
  if (spec.cmdline_given) document["cmdline"] = spec.cmdline;
  document["memory"] = spec.mem;
  document["vcpus"] = spec.cpus;
  if (!spec.cpu_template.empty()) document["cpu_template"] = spec.cpu_template;
  document["console"] = spec.console;
  document["console_limit"] = spec.console_limit;
  auto disks = nlohmann::ordered_json::array();
  for (const auto& disk : spec.disks) {
    nlohmann::ordered_json entry{{"path", disk.path}};
    if (disk.read_only) entry["readonly"] = true;
    if (!disk.overlay_path.empty()) entry["overlay"] = disk.overlay_path;
    disks.push_back(entry);
  }
  if (!disks.empty()) document["disks"] = disks;
  auto nets = nlohmann::ordered_json::array();
  for (const auto& net : spec.nets) {
    nlohmann::ordered_json entry = nlohmann::ordered_json::object();
    if (!net.tap.empty()) entry["tap"] = net.tap;
    if (net.socket_fd >= 0) entry["fd"] = net.socket_fd;
    if (net.mac) entry["mac"] = mac_text(*net.mac);
    nets.push_back(entry);
  }
  if (!nets.empty()) document["nets"] = nets;
  if (spec.entropy_device) document["rng"] = true;
  document["device_poll_us"] = spec.device_poll_us;
  if (!spec.control.empty()) document["control"] = spec.control;
  nlohmann::ordered_json cpu{{"weight", spec.cpu.weight}};
  if (spec.cpu.cap_percent != 0) cpu["cap_percent"] = spec.cpu.cap_percent;
  if (!spec.cpu.pins.empty()) cpu["pins"] = spec.cpu.pins;
  document["cpu"] = cpu;
  return document;
}

}  // namespace vmhive::config
