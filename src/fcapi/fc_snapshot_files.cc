#include "fcapi/fc_snapshot_files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "common/errno_error.h"
#include "snapshot/snapshot_dir.h"

namespace vmhive::fcapi {
namespace {

// <dir>/memory, absolute: a link to it must not depend on where it lies.
std::string memory_file_of(const std::string& snapshot_dir) {
  std::error_code error;
  std::filesystem::path dir = std::filesystem::absolute(snapshot_dir, error);
  if (error) dir = snapshot_dir;
  return (dir / snapshot::SnapshotDir::kMemoryName).lexically_normal().string();
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat first {}, second {};
  return ::stat(a.c_str(), &first) == 0 && ::stat(b.c_str(), &second) == 0 && first.st_dev == second.st_dev &&
         first.st_ino == second.st_ino;
}

}  // namespace

Result<void> link_memory_file(const std::string& snapshot_dir, const std::string& mem_file_path) {
  const std::string memory = memory_file_of(snapshot_dir);
  if (same_file(memory, mem_file_path)) return {};
  struct stat existing {};
  if (::lstat(mem_file_path.c_str(), &existing) == 0)
    return make_error(ErrorKind::kInvalid, "mem_file_path " + mem_file_path +
                                               " exists and is not this snapshot's memory file; vmhive keeps guest "
                                               "memory in " + memory + " and replaces no other file (remove it, or "
                                               "name the snapshot's own)");
  if (::symlink(memory.c_str(), mem_file_path.c_str()) != 0)
    return errno_error("linking mem_file_path to the snapshot's memory file", mem_file_path);
  return {};
}

Result<void> check_memory_file(const std::string& snapshot_dir, const std::string& mem_file_path) {
  const std::string memory = memory_file_of(snapshot_dir);
  if (same_file(memory, mem_file_path)) return {};
  return make_error(ErrorKind::kInvalid, "the memory file " + mem_file_path + " is not " + memory +
                                             ": vmhive loads guest memory only from the snapshot directory "
                                             "snapshot_path names (docs/firecracker-api.md)");
}

}  // namespace vmhive::fcapi
