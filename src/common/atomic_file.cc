#include "common/atomic_file.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <utility>

#include "common/errno_error.h"
#include "common/fd_io.h"
#include "common/hex.h"

namespace vmhive {
namespace {

std::string random_suffix() {
  uint64_t nonce = 0;
  if (::getrandom(&nonce, sizeof nonce, 0) != static_cast<ssize_t>(sizeof nonce)) {
    nonce = static_cast<uint64_t>(::getpid()) << 32 ^ static_cast<uint64_t>(::time(nullptr));
  }
  return hex_digits(nonce, 16);
}

}  // namespace

Result<AtomicFile> AtomicFile::create(int dir_fd, std::string name, mode_t mode) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
    return make_error("'" + name + "' is not a plain file name");
  // A few tries: a name collision is astronomically unlikely, but not an error.
  for (int attempt = 0; attempt < 4; ++attempt) {
    std::string temp_name = "." + name + ".tmp-" + random_suffix();
    UniqueFd fd(::openat(dir_fd, temp_name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
    if (fd.valid()) {
      // The umask may have taken bits away; never add any it did not.
      return AtomicFile(dir_fd, std::move(name), std::move(temp_name), std::move(fd));
    }
    if (errno != EEXIST) return errno_error("cannot create a temporary file for", name);
  }
  return make_error("cannot create a temporary file for " + name + ": every name tried exists");
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : dir_fd_(other.dir_fd_),
      name_(std::move(other.name_)),
      temp_name_(std::exchange(other.temp_name_, std::string())),
      fd_(std::move(other.fd_)) {}

AtomicFile::~AtomicFile() {
  if (!temp_name_.empty()) ::unlinkat(dir_fd_, temp_name_.c_str(), 0);
}

Result<void> AtomicFile::commit(Durability durability) {
  if (temp_name_.empty()) return make_error(name_ + ": already committed");
  const bool synced = durability == Durability::kSynced;
  if (synced && ::fsync(fd_.get()) != 0) return errno_error("cannot sync", name_);
  if (::renameat(dir_fd_, temp_name_.c_str(), dir_fd_, name_.c_str()) != 0) return errno_error("cannot write", name_);
  temp_name_.clear();
  if (synced && ::fsync(dir_fd_) != 0) return errno_error("cannot sync the directory of", name_);
  return {};
}

Result<void> write_file_atomically(int dir_fd, const std::string& name, std::span<const uint8_t> bytes, mode_t mode,
                                   AtomicFile::Durability durability) {
  AtomicFile file = VMHIVE_TRY(AtomicFile::create(dir_fd, name, mode));
  if (auto written = write_fully(file.fd(), bytes); !written.ok()) return with_context(name, written.error());
  return file.commit(durability);
}

Result<void> write_file_atomically(const std::string& path, std::span<const uint8_t> bytes, mode_t mode) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  UniqueFd dir_fd = VMHIVE_TRY(open_directory(dir));
  auto written = write_file_atomically(dir_fd.get(), name, bytes, mode);
  if (!written.ok()) return with_context(path, written.error());
  return {};
}

}  // namespace vmhive
