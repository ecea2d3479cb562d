#include "config/vm_spec.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "config/device_options.h"
#include "common/errno_error.h"
#include "common/host_memory.h"
#include "common/size_parse.h"

namespace vmhive::config {
namespace {

constexpr uint64_t kPageSize = 4096;

Result<uint64_t> check_memory_size(const std::string& text, uint64_t host_memory) {
  auto size = parse_size(text, 1ull << 20);
  if (!size.ok()) return with_context("--mem " + text, size.error());
  if (*size < kMinimumMemory) {
    return make_error("--mem " + text + ": at least " + format_size(kMinimumMemory) + " is needed");
  }
  if (*size % kPageSize != 0) return make_error("--mem " + text + ": must be a multiple of 4 KiB");
  if (*size > host_memory) {
    return make_error("--mem " + text + ": larger than this host's " + format_size(host_memory) + " of RAM");
  }
  return *size;
}

// Opening the file is the honest test: it catches missing files, directories
// and permissions alike, before KVM is touched.
Result<void> check_readable(const std::string& what, const std::string& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) return make_error(what + " " + path + ": is a directory");
  std::ifstream file(path, std::ios::binary);
  if (!file) return errno_error(what + " " + path + ": cannot open");
  return {};
}

}  // namespace

Result<void> check_labels(const std::map<std::string, std::string>& labels) {
  if (labels.size() > kMaxLabels) return make_error("labels: " + std::to_string(labels.size()) + " (at most 64)");
  for (const auto& [key, value] : labels) {
    const bool key_ok = !key.empty() && key.size() <= kMaxLabelKey &&
                        key.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_.-/") == std::string::npos;
    if (!key_ok) return make_error("label \"" + key.substr(0, 80) + "\": keys are 1-63 of a-z 0-9 _ . - /");
    if (value.size() > kMaxLabelValue) return make_error("label " + key + ": a value of at most 256 bytes");
  }
  return {};
}

Result<void> check_cpu_policy(const CpuPolicy& cpu, uint32_t vcpus, uint32_t host_cpus) {
  if (cpu.weight == 0 || cpu.weight > CpuPolicy::kMaxWeight)
    return make_error("cpu weight " + std::to_string(cpu.weight) + ": give 1 to 10000 (100 is the default share)");
  if (cpu.cap_percent > 100 * vcpus)
    return make_error("cpu cap " + std::to_string(cpu.cap_percent) + "%: at most 100% per vCPU (" +
                      std::to_string(100 * vcpus) + "%)");
  if (cpu.pins.size() > 254) return make_error("cpu pins: at most one per vCPU");
  for (uint32_t pin : cpu.pins) {
    if (pin >= host_cpus)
      return make_error("cpu pin " + std::to_string(pin) + ": this host has CPUs 0 to " + std::to_string(host_cpus - 1));
  }
  return {};
}

Result<void> check_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameLength || name.front() == '.' || name.front() == '-' ||
      name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") != std::string::npos)
    return make_error("name \"" + name.substr(0, 80) +
                      "\": give 1 to 64 of A-Z a-z 0-9 _ . - (not starting with . or -)");
  return {};
}

Result<VmConfig> make_vm_config(const VmSpec& options, const HostFacts& host) {
  VmConfig config;
  if (!options.name.empty()) VMHIVE_CHECK(check_name(options.name));
  config.name = options.name;
  VMHIVE_CHECK(check_labels(options.labels));
  config.labels = options.labels;
  config.memory_size = VMHIVE_TRY(check_memory_size(options.mem, host.physical_memory));
  config.vcpu_count = options.cpus;
  if (config.vcpu_count == 0 || config.vcpu_count > kMaxCpusOption)
    return make_error("--cpus " + std::to_string(config.vcpu_count) + ": give 1 to 254");
  VMHIVE_CHECK(check_cpu_policy(options.cpu, config.vcpu_count, host.cpu_count));
  config.cpu = options.cpu;
  if (options.kernel.empty()) {
    config.kernel_path = host.default_guest_dir + "/vmlinux";
    config.initrd_path = options.initrd.empty() ? host.default_guest_dir + "/initramfs.cpio" : options.initrd;
    std::error_code error;
    if (!std::filesystem::exists(config.kernel_path, error)) {
      return make_error("no --kernel given and the default Linux guest is missing (" + config.kernel_path +
                        "): run scripts/prepare-linux-guest.sh " + host.default_guest_dir);
    }
  } else {
    config.kernel_path = options.kernel;
    config.initrd_path = options.initrd;
  }
  VMHIVE_CHECK(check_readable("--kernel", config.kernel_path));
  if (!config.initrd_path.empty()) VMHIVE_CHECK(check_readable("--initrd", config.initrd_path));
  config.cmdline = options.cmdline_given ? options.cmdline : kDefaultLinuxCmdline;
  config.console = options.console;
  if (config.console.empty()) return make_error("--console: give stdio or a file name");
  config.console_limit = VMHIVE_TRY(parse_console_limit(options.console_limit));
  config.cpu_template = options.cpu_template;
  config.kvm_device = options.kvm_device;
  config.report_timing = options.report_timing;
  config.entropy_device = options.entropy_device;
  for (const auto& disk : options.disks) {
    VMHIVE_CHECK(check_disk_spec(disk, "--disk " + disk.path));
    VMHIVE_CHECK(check_readable("--disk", disk.path));
    config.disks.push_back(disk);
  }
  for (const auto& net : options.nets) {
    VMHIVE_CHECK(check_net_spec(net, "--net " + net.link().describe()));
    config.nets.push_back(net);
  }
  if (options.device_poll_us > kMaxDevicePollUs)
    return make_error("--device-poll-us " + std::to_string(options.device_poll_us) + ": give 0 to 999999");
  config.device_poll_us = options.device_poll_us;
  config.control_socket = options.control;
  config.write_protect_text = options.write_protect_text;
  config.alert_fd = options.alert_fd;
  return config;
}

HostFacts probe_host() {
  HostFacts facts;
  facts.physical_memory = host_physical_memory();
  const long cpus = ::sysconf(_SC_NPROCESSORS_CONF);
  facts.cpu_count = cpus > 0 ? static_cast<uint32_t>(cpus) : 1;
  std::error_code error;
  auto executable = std::filesystem::read_symlink("/proc/self/exe", error);
  facts.default_guest_dir = (error ? std::filesystem::path(".") : executable.parent_path()).string() + "/linux-guest";
  return facts;
}

}  // namespace vmhive::config
