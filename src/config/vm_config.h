// A validated description of one VM, produced by the CLI (and later by the
// control plane), consumed by Machine::create.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "devices/virtio/block/disk_image.h"
#include "devices/virtio/net/net_backend.h"

namespace vmhive {

// A --net option: a tap or an inherited socket (one of the two) and,
// optionally, the guest's MAC address.
struct NetSpec {
  std::string tap;
  int socket_fd = -1;
  std::optional<std::array<uint8_t, 6>> mac;  // none: a random locally administered one
  virtio::NetLinkSpec link() const { return virtio::NetLinkSpec{tap, socket_fd}; }
};

// How much host CPU a VM gets, as Xen's scheduler weighs domains: a weight
// (its share against the others when the CPUs are busy), an optional cap,
// and optional pinning of its vCPUs to host CPUs.
struct CpuPolicy {
  static constexpr uint32_t kDefaultWeight = 100;
  static constexpr uint32_t kMaxWeight = 10000;
  uint32_t weight = kDefaultWeight;  // 1 to 10000; a VM of weight 300 gets 3x one of 100
  uint32_t cap_percent = 0;          // 0: none; else at most this % of one host CPU (200: two CPUs)
  std::vector<uint32_t> pins;        // host CPUs; vCPU i runs on pins[i % pins.size()]; empty: anywhere
  bool operator==(const CpuPolicy&) const = default;
};

struct VmConfig {
  std::string name;                          // empty: unnamed (vmhive run without a config)
  std::map<std::string, std::string> labels;  // the user's, carried along
  CpuPolicy cpu;
  std::string kernel_path;
  std::string initrd_path;      // empty: none
  std::string cmdline;
  uint64_t memory_size = 256ull << 20;
  uint32_t vcpu_count = 1;
  std::string console = "stdio";  // "stdio" or a file to write guest output to
  uint64_t console_limit = 64ull << 20;  // at most this many bytes to a console file
  std::string cpu_template;       // empty: the default for this host's backend
  std::string kvm_device = "/dev/kvm";
  bool report_timing = false;     // print start-up time and exit counts on stderr
  bool entropy_device = false;    // virtio-rng on PCI
  std::vector<virtio::DiskSpec> disks;  // virtio-blk, in PCI slot order
  std::vector<NetSpec> nets;             // virtio-net, after the disks
  uint32_t device_poll_us = 50;          // device thread busy-polls this long after activity (0: never)
  std::string control_socket;            // empty: none (control/control_request.h)
  bool write_protect_text = false;       // the kernel's text in read-only slots (vmm/text_write_watch.h)
  int alert_fd = -1;                     // where text writes are reported as JSON lines; -1: none
};

// A VM started from a snapshot directory instead of a kernel.
struct RestoreConfig {
  std::string snapshot_dir;
  std::string console = "stdio";
  uint64_t console_limit = 64ull << 20;
  std::string control_socket;
  std::string kvm_device = "/dev/kvm";
  bool report_timing = false;
  uint32_t device_poll_us = 50;
  std::string overlay_dir;     // where to keep disk overlays; empty: unnamed files that go with the VM
  std::string overlay_prefix = "restore";  // overlay names: <prefix>-disk-<n>.overlay
  std::vector<virtio::NetLinkSpec> net_links;  // one per virtio-net device in the snapshot
  std::vector<std::string> shared_disks;  // the read-only images the snapshot uses in place, in order
  bool write_protect_text = false;  // the text the snapshot records, in read-only slots
  int alert_fd = -1;
};

}  // namespace vmhive
