#include "devices/virtio/block/block_persist.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

#include "common/errno_error.h"
#include "common/state_codec.h"
#include "devices/virtio/block/disk_copy.h"

namespace vmhive::virtio {
namespace {

int64_t mtime_ns_of(const struct stat& info) {
  return static_cast<int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec;
}

bool is_plain_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos;
}

// A read-only image the snapshot uses where it is: it must be as it was.
Result<std::unique_ptr<VirtioDevice>> restore_shared(const BlockState& state) {
  struct stat info {};
  if (::stat(state.image.c_str(), &info) != 0) return errno_error("snapshot disk", state.image);
  if (static_cast<uint64_t>(info.st_size) != state.size || mtime_ns_of(info) != state.mtime_ns)
    return make_error("snapshot disk " + state.image + " has changed since the snapshot (size or modification time)");
  DiskSpec spec{state.image, true, {}};
  auto image = VMHIVE_TRY(open_disk(spec));
  return std::unique_ptr<VirtioDevice>(std::make_unique<BlockDevice>(std::move(image), spec, state.serial));
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
    char resolved[PATH_MAX];
    struct stat info {};
    if (::realpath(spec_.path.c_str(), resolved) == nullptr || ::stat(resolved, &info) != 0)
      return errno_error("disk", spec_.path);
    state.image = resolved;
    state.shared = true;
    state.mtime_ns = mtime_ns_of(info);
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
  if (state.shared) return restore_shared(state);
  const std::string base = context.snapshot_path + "/" + state.image;
  struct stat base_info {};
  if (::fstatat(context.snapshot_fd, state.image.c_str(), &base_info, AT_SYMLINK_NOFOLLOW) != 0)
    return errno_error("snapshot disk", base);
  if (!S_ISREG(base_info.st_mode))  // a link could make any readable host file the guest's disk
    return make_error("snapshot disk " + base + " is not a regular file");
  const OverlayPlace overlay = VMHIVE_TRY(context.overlay_place(disk_number));
  // An overlay left from before would hold writes the restored guest never made.
  if (::access(overlay.path.c_str(), F_OK) == 0)
    return make_error("disk overlay " + overlay.path + " already exists; a restore starts from the snapshot's disk");
  DiskSpec spec{base, false, overlay.path};
  auto image = open_disk(spec);
  if (!overlay.kept) ::unlink(overlay.path.c_str());  // the open file lives on until the VM ends
  if (!image.ok()) return with_context("snapshot disk " + base, image.error());
  if ((*image)->size() != state.size)
    return make_error("snapshot disk " + base + " has " + std::to_string((*image)->size()) + " bytes, the snapshot " +
                      std::to_string(state.size));
  return std::unique_ptr<VirtioDevice>(std::make_unique<BlockDevice>(std::move(*image), spec, state.serial));
}

}  // namespace vmhive::virtio
