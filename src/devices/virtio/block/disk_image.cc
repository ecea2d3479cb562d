#include "devices/virtio/block/disk_image.h"

#include <sys/stat.h>

#include "common/errno_error.h"

#include "devices/virtio/block/overlay_image.h"
#include "devices/virtio/block/raw_image.h"

namespace vmhive::virtio {

Result<FileIdentity> identity_of(int fd) {
  struct stat info {};
  if (::fstat(fd, &info) != 0) return errno_error("fstat failed");
  return FileIdentity{static_cast<uint64_t>(info.st_dev), static_cast<uint64_t>(info.st_ino),
                      static_cast<uint64_t>(info.st_size),
                      static_cast<int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec};
}

Result<std::unique_ptr<DiskImage>> open_disk(const DiskSpec& spec) {
  if (spec.overlay_path.empty()) return std::unique_ptr<DiskImage>(VMHIVE_TRY(RawImage::open(spec.path, spec.read_only)));
  if (spec.read_only) return make_error("disk " + spec.path + ": readonly and overlay= cannot go together");
  auto base = VMHIVE_TRY(RawImage::open(spec.path, true));
  return std::unique_ptr<DiskImage>(VMHIVE_TRY(OverlayImage::open(std::move(base), spec.path, spec.overlay_path)));
}

}  // namespace vmhive::virtio
