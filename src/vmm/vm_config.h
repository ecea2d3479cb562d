// A validated description of one VM, produced by the CLI (and later by the
// control plane), consumed by Machine::create.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "devices/virtio/block/disk_image.h"

namespace vmhive {

struct VmConfig {
  std::string kernel_path;
  std::string initrd_path;      // empty: none
  std::string cmdline;
  uint64_t memory_size = 256ull << 20;
  uint32_t vcpu_count = 1;
  std::string console = "stdio";  // "stdio" or a file to write guest output to
  std::string cpu_template;       // empty: the default for this host's backend
  std::string kvm_device = "/dev/kvm";
  bool report_timing = false;     // print start-up time and exit counts on stderr
  bool entropy_device = false;    // virtio-rng on PCI
  std::vector<virtio::DiskSpec> disks;  // virtio-blk, in PCI slot order
};

}  // namespace vmhive
