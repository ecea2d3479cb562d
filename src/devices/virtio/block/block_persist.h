// virtio-blk's persisted state: which disk the guest had and where its
// content is now. A writable disk is frozen into the snapshot as a sparse
// copy (disk_copy.h) that every restore uses as the read-only base of its
// own overlay. A read-only image is used where it is: the snapshot records
// which file it was (device, inode, size, modification time), and a restore
// uses only a file the operator names (`restore --disk PATH`) that is still
// that file: a snapshot never opens a host file on its own.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/result.h"
#include "devices/virtio/block/block_device.h"
#include "devices/virtio/device_persistence.h"

namespace vmhive::virtio {

struct BlockState {
  static constexpr size_t kMaxPath = 4096;
  static constexpr size_t kMaxSerial = 20;

  std::string image;    // a file of the snapshot (a plain name), or, if shared, an absolute path
  bool shared = false;  // a read-only image used where it is: the restore's operator names it again
  uint64_t size = 0;
  int64_t mtime_ns = 0;  // of a shared image, with its device and inode: the file it must be
  uint64_t device = 0;
  uint64_t inode = 0;
  std::string serial;    // the ID the guest saw (GET_ID)

  template <class Codec, class Self>
  static Result<void> fields(Codec& codec, Self& self) {
    VMHIVE_CHECK(codec.string(self.image, kMaxPath));
    VMHIVE_CHECK(codec.field(self.shared, self.size, self.mtime_ns, self.device, self.inode));
    return codec.string(self.serial, kMaxSerial);
  }
  Result<void> check() const;
};

struct BlockPersistence {
  static constexpr DeviceType kType = DeviceType::kBlock;
  static constexpr bool kTakesNetLink = false;
  using State = BlockState;
  // A device over a new overlay on the snapshot's copy (or the shared image).
  static Result<std::unique_ptr<VirtioDevice>> restore(const BlockState& state, DeviceRestoreContext& context);
};

}  // namespace vmhive::virtio
