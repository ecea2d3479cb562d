// Files that appear whole or not at all: written under a fresh temporary
// name in the same directory, synced, renamed over the final name, and the
// directory synced, so a crash leaves either the old file or the new one.
//
// The temporary file is created with O_CREAT | O_EXCL | O_NOFOLLOW under a
// random name: nothing planted in the directory (a symlink, a hard link, a
// leftover) is ever followed, truncated or reused. Files are 0600 unless the
// caller asks otherwise.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>

#include "common/directories.h"
#include "common/result.h"
#include "common/unique_fd.h"

namespace vmhive {

class AtomicFile {
 public:
  // A new temporary file in the directory `dir_fd`, to become `name` (a
  // plain name, no '/') on commit(). `dir_fd` must stay open until then.
  static Result<AtomicFile> create(int dir_fd, std::string name, mode_t mode = 0600);
  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();  // removes the temporary file unless committed

  int fd() const { return fd_.get(); }
  const std::string& name() const { return name_; }
  // fsync, rename over `name`, fsync the directory. The fd stays open.
  // kAtomicOnly skips both fsyncs: after a crash the file is still whole
  // (old or new), but after a power loss it may be the old one.
  enum class Durability { kSynced, kAtomicOnly };
  Result<void> commit(Durability durability = Durability::kSynced);

 private:
  AtomicFile(int dir_fd, std::string name, std::string temp_name, UniqueFd fd)
      : dir_fd_(dir_fd), name_(std::move(name)), temp_name_(std::move(temp_name)), fd_(std::move(fd)) {}

  int dir_fd_;
  std::string name_;
  std::string temp_name_;  // empty once committed or moved from
  UniqueFd fd_;
};

// `bytes` as the whole content of `name` in `dir_fd`, atomically.
Result<void> write_file_atomically(int dir_fd, const std::string& name, std::span<const uint8_t> bytes,
                                   mode_t mode = 0600,
                                   AtomicFile::Durability durability = AtomicFile::Durability::kSynced);
// The same for a path: its directory is opened (without following a
// symlink in the last component) and `bytes` written there.
Result<void> write_file_atomically(const std::string& path, std::span<const uint8_t> bytes, mode_t mode = 0600);

}  // namespace vmhive
