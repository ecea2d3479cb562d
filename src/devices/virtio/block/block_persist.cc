#include "devices/virtio/block/block_persist.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

#include "common/errno_error.h"
#include "common/state_codec.h"
#include "devices/virtio/block/disk_copy.h"
#include "devices/virtio/block/overlay_image.h"
#include "devices/virtio/block/raw_image.h"

namespace vmhive::virtio {
namespace {

bool is_plain_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos;
}

// A read-only image the snapshot uses where it is: the operator names it,
// and it must be the very file, as it was.
Result<std::unique_ptr<VirtioDevice>> restore_shared(const BlockState& state, DeviceRestoreContext& context) {
  if (context.shared_disks_taken >= context.shared_disks.size())
    return make_error("the snapshot's disk uses the read-only image " + state.image +
                      " in place; give it with --disk PATH (a snapshot never opens host files on its own)");
  const std::string& path = context.shared_disks[context.shared_disks_taken++];
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return errno_error("--disk", path);
  const FileIdentity found = VMHIVE_TRY(identity_of(fd.get()));
  if (found.device != state.device || found.inode != state.inode)
    return make_error("--disk " + path + " is not the image the snapshot used (" + state.image + ")");
  if (found.size != state.size || found.mtime_ns != state.mtime_ns)
    return make_error("snapshot disk " + path + " has changed since the snapshot (size or modification time)");
  auto image = RawImage::from_fd(std::move(fd), path, true);
  if (!image.ok()) return with_context("--disk " + path, image.error());
  return std::unique_ptr<VirtioDevice>(
      std::make_unique<BlockDevice>(std::move(*image), DiskSpec{path, true, {}}, state.serial));
}

}  // namespace

Result<void> BlockState::check() const {
  if (image.empty() || size == 0 || size % 512 != 0)
    return make_error("a disk without an image or with a size of " + std::to_string(size));
  // A copy in the snapshot is a plain name there (not `..`, not a path);
  // anything else must be a shared image's absolute path.
  const bool absolute = image.front() == '/';
  if (absolute != shared || (!absolute && !is_plain_name(image)))
    return make_error("disk image \"" + image + "\" is neither a file of the snapshot nor a shared image's absolute path");
  return {};
}

Result<std::vector<uint8_t>> BlockDevice::save(const DeviceSaveContext& context) {
  BlockState state;
  state.serial = serial();
  state.size = image_->size();
  if (spec_.read_only && spec_.overlay_path.empty()) {
    // Nothing can change a read-only image through this VM: use it in place.
    const FileIdentity identity = VMHIVE_TRY(image_->identity());
    char resolved[PATH_MAX];
    if (::realpath(spec_.path.c_str(), resolved) == nullptr) return errno_error("disk", spec_.path);
    state.image = resolved;  // for the restore's messages; the identity decides
    state.shared = true;
    state.mtime_ns = identity.mtime_ns;
    state.device = identity.device;
    state.inode = identity.inode;
  } else {
    state.image = context.file_name;
    auto copied = copy_disk_sparse(*image_, context.snapshot_fd, state.image);
    if (!copied.ok()) return with_context("disk " + spec_.path, copied.error());
  }
  return encode_state(state);
}

Result<std::unique_ptr<VirtioDevice>> BlockPersistence::restore(const BlockState& state,
                                                               DeviceRestoreContext& context) {
  const unsigned disk_number = context.disks_restored++;
  if (state.shared) return restore_shared(state, context);
  // The snapshot's copy: opened once, relative to the snapshot directory,
  // never through a link, and only a regular file with no other name (a
  // hard link could make any readable host file the guest's disk).
  const std::string base = context.snapshot_path + "/" + state.image;
  UniqueFd base_fd(::openat(context.snapshot_fd, state.image.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!base_fd.valid()) return errno_error("snapshot disk", base);
  struct stat base_info {};
  if (::fstat(base_fd.get(), &base_info) != 0) return errno_error("snapshot disk", base);
  if (!S_ISREG(base_info.st_mode) || base_info.st_nlink != 1)
    return make_error("snapshot disk " + base + " is not a regular file with one name");
  auto base_image = RawImage::from_fd(std::move(base_fd), base, true);
  if (!base_image.ok()) return with_context("snapshot disk " + base, base_image.error());
  const OverlayPlace overlay = VMHIVE_TRY(context.overlay_place(disk_number));
  // An overlay left from before would hold writes the restored guest never made.
  if (::access(overlay.path.c_str(), F_OK) == 0)
    return make_error("disk overlay " + overlay.path + " already exists; a restore starts from the snapshot's disk");
  DiskSpec spec{base, false, overlay.path};
  auto image = OverlayImage::open(std::move(*base_image), base, overlay.path);
  if (!overlay.kept) ::unlink(overlay.path.c_str());  // the open file lives on until the VM ends
  if (!image.ok()) return with_context("snapshot disk " + base, image.error());
  if ((*image)->size() != state.size)
    return make_error("snapshot disk " + base + " has " + std::to_string((*image)->size()) + " bytes, the snapshot " +
                      std::to_string(state.size));
  return std::unique_ptr<VirtioDevice>(std::make_unique<BlockDevice>(std::move(*image), spec, state.serial));
}

}  // namespace vmhive::virtio
