#include "snapshot/snapshot_dir.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>

#include "common/errno_error.h"
#include "common/fd_io.h"
#include "common/hex.h"

namespace vmhive::snapshot {

std::string SnapshotDir::device_file_name(unsigned index) { return "disk-" + std::to_string(index); }

std::string SnapshotDir::overlay_path(const std::string& dir, const std::string& prefix, unsigned disk) {
  return dir + "/" + prefix + "-disk-" + std::to_string(disk) + ".overlay";
}

Result<SnapshotDir> SnapshotDir::open_fd(UniqueFd fd, const std::string& given) {
  // The path the kernel has for the directory we hold, not a second lookup.
  char resolved[PATH_MAX];
  const std::string link = "/proc/self/fd/" + std::to_string(fd.get());
  const ssize_t length = ::readlink(link.c_str(), resolved, sizeof resolved - 1);
  if (length <= 0) return errno_error("snapshot", given);
  return SnapshotDir(std::move(fd), std::string(resolved, static_cast<size_t>(length)));
}

Result<SnapshotDir> SnapshotDir::create(const std::string& path) {
  auto fd = ensure_private_directory(path);
  if (!fd.ok()) return with_context("snapshot directory", fd.error());
  if (::unlinkat(fd->get(), kStateName, 0) != 0 && errno != ENOENT)
    return errno_error("snapshot directory " + path + ": cannot replace its state file");
  return open_fd(std::move(*fd), path);
}

Result<SnapshotDir> SnapshotDir::open(const std::string& path) {
  auto fd = open_directory(path);
  if (!fd.ok()) return with_context("snapshot " + path, fd.error());
  return open_fd(std::move(*fd), path);
}

Result<AtomicFile> SnapshotDir::create_file(const std::string& name) const {
  auto file = AtomicFile::create(fd_.get(), name);
  if (!file.ok()) return with_context("snapshot " + path_, file.error());
  return file;
}

Result<size_t> SnapshotDir::write_state(const MachineState& state) const {
  const std::vector<uint8_t> bytes = encode_machine_state(state);
  auto written = write_file_atomically(fd_.get(), kStateName, bytes);
  if (!written.ok()) return with_context("snapshot " + path_, written.error());
  return bytes.size();
}

virtio::DeviceSaveContext SnapshotDir::save_context(unsigned index) const {
  return virtio::DeviceSaveContext{fd_.get(), path_, device_file_name(index)};
}

Result<UniqueFd> SnapshotDir::open_regular(const char* name) const {
  const std::string where = path_ + "/" + name;
  UniqueFd fd(::openat(fd_.get(), name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return errno_error("snapshot file", where);
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) return errno_error("snapshot file", where);
  if (!S_ISREG(info.st_mode)) return make_error("snapshot file " + where + " is not a regular file");
  return fd;
}

Result<LoadedSnapshot> SnapshotDir::load() const {
  const std::string state_path = path_ + "/" + kStateName;
  UniqueFd state_fd = VMHIVE_TRY(open_regular(kStateName));
  auto bytes = read_to_end(state_fd.get(), kMaxStateFileBytes);
  if (!bytes.ok()) return with_context(state_path, bytes.error());
  auto file = StateFile::parse(*bytes);
  if (!file.ok()) return with_context(state_path, file.error());
  auto state = decode_machine_state(*file);
  if (!state.ok()) return with_context(state_path, state.error());

  const std::string memory_path = path_ + "/" + kMemoryName;
  UniqueFd memory = VMHIVE_TRY(open_regular(kMemoryName));
  struct stat info {};
  if (::fstat(memory.get(), &info) != 0) return errno_error("snapshot memory file", memory_path);
  if (static_cast<uint64_t>(info.st_size) != state->description.memory_file_size)
    return make_error("snapshot " + path_ + ": memory file is " + std::to_string(info.st_size) +
                      " bytes, the state file says " + std::to_string(state->description.memory_file_size));
  return LoadedSnapshot{std::move(*state), std::move(memory)};
}

virtio::DeviceRestoreContext SnapshotDir::restore_context(const std::string& overlay_dir,
                                                          const std::string& overlay_prefix,
                                                          std::vector<virtio::NetLinkSpec> net_links) const {
  virtio::DeviceRestoreContext context;
  context.snapshot_fd = fd_.get();
  context.snapshot_path = path_;
  context.net_links = std::move(net_links);
  context.overlay_place = [overlay_dir, overlay_prefix, path = path_](unsigned disk) -> Result<virtio::OverlayPlace> {
    if (!overlay_dir.empty()) return virtio::OverlayPlace{overlay_path(overlay_dir, overlay_prefix, disk), true};
    // Unnamed: a fresh name beside the snapshot's files, unlinked once open.
    uint64_t nonce = 0;
    if (::getrandom(&nonce, sizeof nonce, 0) != static_cast<ssize_t>(sizeof nonce))
      return errno_error("cannot name an overlay: getrandom failed");
    return virtio::OverlayPlace{path + "/.overlay-" + std::to_string(::getpid()) + "-" + std::to_string(disk) + "-" +
                                    hex_digits(nonce, 16),
                                false};
  };
  return context;
}

}  // namespace vmhive::snapshot
