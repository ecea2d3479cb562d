#include "cli/run_options.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "cli/device_options.h"
#include "common/errno_error.h"
#include "common/host_memory.h"
#include "common/size_parse.h"

namespace vmhive::cli {
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

Result<VmConfig> make_vm_config(const RunOptions& options, const HostFacts& host) {
  VmConfig config;
  config.memory_size = VMHIVE_TRY(check_memory_size(options.mem, host.physical_memory));
  config.vcpu_count = options.cpus;
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
    auto spec = VMHIVE_TRY(parse_disk_option(disk));
    VMHIVE_CHECK(check_readable("--disk", spec.path));
    config.disks.push_back(std::move(spec));
  }
  for (const auto& net : options.nets) config.nets.push_back(VMHIVE_TRY(parse_net_option(net)));
  config.device_poll_us = options.device_poll_us;
  config.control_socket = options.control;
  return config;
}

HostFacts probe_host() {
  HostFacts facts;
  facts.physical_memory = host_physical_memory();
  std::error_code error;
  auto executable = std::filesystem::read_symlink("/proc/self/exe", error);
  facts.default_guest_dir = (error ? std::filesystem::path(".") : executable.parent_path()).string() + "/linux-guest";
  return facts;
}

}  // namespace vmhive::cli
