#include "devices/virtio/block/disk_image.h"

#include "devices/virtio/block/overlay_image.h"
#include "devices/virtio/block/raw_image.h"

namespace vmhive::virtio {

Result<std::unique_ptr<DiskImage>> open_disk(const DiskSpec& spec) {
  if (spec.overlay_path.empty()) return std::unique_ptr<DiskImage>(VMHIVE_TRY(RawImage::open(spec.path, spec.read_only)));
  if (spec.read_only) return make_error("disk " + spec.path + ": readonly and overlay= cannot go together");
  auto base = VMHIVE_TRY(RawImage::open(spec.path, true));
  return std::unique_ptr<DiskImage>(VMHIVE_TRY(OverlayImage::open(std::move(base), spec.path, spec.overlay_path)));
}

}  // namespace vmhive::virtio
