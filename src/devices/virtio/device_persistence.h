// What a virtio device needs from a snapshot to save its own state, and from
// a restore to be built again (Firecracker keeps this in each device's
// persist.rs; Cloud Hypervisor in `Snapshottable`). The snapshot directory
// and the restore's options fill these in (snapshot/snapshot_dir.h,
// vmm/pci_platform.h); the device decides what it keeps.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/result.h"
#include "devices/virtio/net/net_backend.h"

namespace vmhive::virtio {

// Saving, with the device and its queues paused.
struct DeviceSaveContext {
  int snapshot_fd = -1;       // the snapshot directory being written
  std::string snapshot_path;  // for messages
  std::string file_name;      // a file name in it reserved for this device, if it keeps one ("disk-2")
};

// Where a restored disk's copy-on-write overlay goes.
struct OverlayPlace {
  std::string path;
  bool kept = false;  // false: unlinked as soon as it is open (it goes with the VM)
};

// Building a device again from its saved state: the host resources it gets.
struct DeviceRestoreContext {
  int snapshot_fd = -1;       // the snapshot directory (files the devices saved)
  std::string snapshot_path;  // its absolute path
  // Where the overlay of the n-th restored disk (0, 1, ...) goes.
  std::function<Result<OverlayPlace>(unsigned disk)> overlay_place;
  std::vector<NetLinkSpec> net_links;     // for the network devices, in order
  std::vector<std::string> shared_disks;  // the read-only images the snapshot's disks use in place, in order
  // Used up as devices are restored.
  size_t net_links_taken = 0;
  size_t shared_disks_taken = 0;
  unsigned disks_restored = 0;
};

}  // namespace vmhive::virtio
