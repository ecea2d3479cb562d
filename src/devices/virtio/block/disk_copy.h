// A disk's content frozen into a file, for snapshots: what the guest sees on
// the disk now (whatever image or overlay chain serves it), written as a
// sparse raw image that restores and clones then use as a read-only base.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "devices/virtio/block/disk_image.h"

namespace vmhive::virtio {

// Flushes `image`, then writes its bytes to `name` in the directory `dir_fd`
// (replaced atomically, fsynced, 0600, never through a link already there);
// ranges of zeros stay holes. Returns the bytes of data written.
Result<uint64_t> copy_disk_sparse(DiskImage& image, int dir_fd, const std::string& name);
// The same into `path`, whose directory must exist.
Result<uint64_t> copy_disk_sparse(DiskImage& image, const std::string& path);

}  // namespace vmhive::virtio
