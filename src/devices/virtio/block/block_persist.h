// virtio-blk's persisted state: which disk the guest had and where its
// content is now. A writable disk is frozen into the snapshot as a sparse
// copy (disk_copy.h) that every restore uses as the read-only base of its
// own overlay; a read-only image is kept by path and must not change.
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
  bool shared = false;  // a read-only image used where it is; refused on restore if it changed
  uint64_t size = 0;
  int64_t mtime_ns = 0;  // of a shared image
  std::string serial;    // the ID the guest saw (GET_ID)

  template <class Codec, class Self>
  static Result<void> fields(Codec& codec, Self& self) {
    VMHIVE_CHECK(codec.string(self.image, kMaxPath));
    VMHIVE_CHECK(codec.field(self.shared, self.size, self.mtime_ns));
    return codec.string(self.serial, kMaxSerial);
  }
  Result<void> check() const;
};

struct BlockPersistence {
  static constexpr DeviceType kType = DeviceType::kBlock;
  static constexpr bool kTakesTap = false;
  using State = BlockState;
  // A device over a new overlay on the snapshot's copy (or the shared image).
  static Result<std::unique_ptr<VirtioDevice>> restore(const BlockState& state, DeviceRestoreContext& context);
};

}  // namespace vmhive::virtio
