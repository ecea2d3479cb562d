// A VM as a user describes it, with `vmhive run`'s flags or a JSON document
// (vm_spec_json.h), and its checking into a VmConfig: one validation for
// both. Checks that need no KVM happen here, before any device is opened,
// so each bad value gets one line naming it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "config/vm_config.h"

namespace vmhive::config {

struct VmSpec {
  std::string name;  // empty: unnamed; else 1-64 of [A-Za-z0-9_.-], not starting with '.' or '-'
  std::map<std::string, std::string> labels;
  CpuPolicy cpu;
  std::string kernel;       // empty: the default Linux guest
  std::string initrd;       // empty: the default guest's, when the kernel is the default
  std::string cmdline;
  bool cmdline_given = false;
  std::string mem = "256M";
  uint32_t cpus = 1;  // 1 to kMaxCpusOption (CLI11 checks); the VMM checks KVM's limit
  std::string console = "stdio";
  std::string console_limit = "64M";  // at most this much guest output goes to a console file
  std::string cpu_template;
  std::string kvm_device = "/dev/kvm";
  bool report_timing = false;
  bool entropy_device = false;
  std::vector<virtio::DiskSpec> disks;  // checked by check_disk_spec (device_options.h)
  std::vector<NetSpec> nets;
  uint32_t device_poll_us = 50;  // 0 to kMaxDevicePollUs (CLI11 checks)
  std::string control;  // control socket path, empty: none
  bool write_protect_text = false;  // command line only: --write-protect-text
  int alert_fd = -1;                // command line only: --alert-fd N
};

// Facts about the host the checks depend on, passed in so tests can vary them.
struct HostFacts {
  uint64_t physical_memory;      // bytes
  std::string default_guest_dir;  // where scripts/prepare-linux-guest.sh put vmlinux and the initramfs
  uint32_t cpu_count = 1;         // host CPUs (pins must name one)
};

inline constexpr size_t kMaxNameLength = 64;
inline constexpr size_t kMaxLabels = 64;
inline constexpr size_t kMaxLabelKey = 63;
inline constexpr size_t kMaxLabelValue = 256;
// A VM's name: it names files and cgroups, so no path characters.
Result<void> check_name(const std::string& name);
// Labels: at most 64; keys 1-63 of a-z 0-9 _ . - /, values up to 256 bytes.
Result<void> check_labels(const std::map<std::string, std::string>& labels);

inline constexpr uint64_t kMinimumMemory = 16ull << 20;
// The ranges the command line accepts. 254 vCPUs: the MADT's 8-bit APIC ids
// (the IOAPIC takes the next); fewer where KVM allows fewer.
inline constexpr uint32_t kMaxCpusOption = 254;
inline constexpr uint32_t kMaxDevicePollUs = 999'999;
inline constexpr char kDefaultLinuxCmdline[] = "console=ttyS0 panic=-1 reboot=k";
// Options that make a Linux guest boot faster at some cost to the guest's own
// hardening (Spectre/Meltdown mitigations, zeroing of fresh pages, address-space
// randomisation, the audit subsystem). Never added by vmhive; a user who accepts
// the trade-off passes them with --cmdline. The Linux tests and bench/linux-boot
// use them on KVM-PVM, where each is minutes of emulated ring 0 (docs/pvm.md).
inline constexpr char kLinuxSpeedTradeoffs[] = "mitigations=off init_on_alloc=0 nokaslr audit=0";

Result<VmConfig> make_vm_config(const VmSpec& options, const HostFacts& host);

// The host's facts: RAM from sysconf, the default guest beside the executable.
HostFacts probe_host();

}  // namespace vmhive::config
