// A snapshot directory: the names of its files, writing them so that a
// snapshot is complete or absent, and loading one back. `restore`, `clone`
// and `clone-server` all read snapshots through this, and `snapshot` writes
// them through it.
//
//   state     the state file (machine_state.h); written last, so a directory
//             with a state file is a complete snapshot
//   memory    guest RAM, regions end to end, sparse
//   disk-N    virtio function N's disk, frozen (devices keep files named
//             by device_file_name)
//
// Every file is opened relative to the directory, never through a symlink,
// and created 0600; the directory is created 0700.
#pragma once

#include <string>

#include "common/atomic_file.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "devices/virtio/device_persistence.h"
#include "snapshot/machine_state.h"

namespace vmhive::snapshot {

struct LoadedSnapshot {
  MachineState state;
  UniqueFd memory;  // the memory file, read-only, of the size the state gives
};

class SnapshotDir {
 public:
  static constexpr char kStateName[] = "state";
  static constexpr char kMemoryName[] = "memory";

  // The file virtio function `index` may keep: "disk-<index>".
  static std::string device_file_name(unsigned index);
  // A kept overlay of restored disk `disk`: <dir>/<prefix>-disk-<disk>.overlay.
  static std::string overlay_path(const std::string& dir, const std::string& prefix, unsigned disk);

  // A directory to write a snapshot into, created if missing (an existing
  // one must be this user's and writable by nobody else). An older
  // snapshot's state file goes first: a snapshot that fails half-way never
  // leaves new files beside an old state file.
  static Result<SnapshotDir> create(const std::string& path);
  // An existing snapshot, to read.
  static Result<SnapshotDir> open(const std::string& path);

  const std::string& path() const { return path_; }  // absolute
  int fd() const { return fd_.get(); }

  // A new file of the snapshot, appearing whole under `name` on commit.
  Result<AtomicFile> create_file(const std::string& name) const;
  // The state file, atomically; returns its size in bytes.
  Result<size_t> write_state(const MachineState& state) const;
  // What virtio function `index` needs to save itself here.
  virtio::DeviceSaveContext save_context(unsigned index) const;

  // The state, decoded and checked, and the memory file, opened and checked
  // against it.
  Result<LoadedSnapshot> load() const;
  // What restored devices need: files from here, overlays in `overlay_dir`
  // (kept, named by `overlay_prefix`) or, without one, unnamed beside the
  // snapshot's files, and `net_links` for the network devices.
  virtio::DeviceRestoreContext restore_context(const std::string& overlay_dir, const std::string& overlay_prefix,
                                               std::vector<virtio::NetLinkSpec> net_links) const;

 private:
  SnapshotDir(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  static Result<SnapshotDir> open_fd(UniqueFd fd, const std::string& given);
  Result<UniqueFd> open_regular(const char* name) const;

  UniqueFd fd_;
  std::string path_;
};

}  // namespace vmhive::snapshot
