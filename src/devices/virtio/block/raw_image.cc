#include "devices/virtio/block/raw_image.h"
#include "common/errno_error.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace vmhive::virtio {
namespace {

Error io_error(const char* what, uint64_t offset) {
  return errno_error(std::string(what) + " at byte " + std::to_string(offset) + " failed");
}

}  // namespace

Result<void> read_fully(int fd, uint64_t offset, std::span<uint8_t> data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t got = ::pread(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return io_error("read", offset + done);
    if (got == 0) {  // past the end of the file: the rest is zeros
      std::fill(data.begin() + static_cast<ptrdiff_t>(done), data.end(), 0);
      return {};
    }
    done += static_cast<size_t>(got);
  }
  return {};
}

Result<void> write_fully(int fd, uint64_t offset, std::span<const uint8_t> data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t put = ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return io_error("write", offset + done);
    done += static_cast<size_t>(put);
  }
  return {};
}

Result<std::unique_ptr<RawImage>> RawImage::open(const std::string& path, bool read_only) {
  UniqueFd fd(::open(path.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC));
  if (!fd.valid()) return errno_error("disk image", path);
  return from_fd(std::move(fd), path, read_only);
}

Result<std::unique_ptr<RawImage>> RawImage::from_fd(UniqueFd fd, const std::string& path, bool read_only) {
  struct stat info {};
  if (::fstat(fd.get(), &info) < 0) return errno_error("disk image", path);
  if (!S_ISREG(info.st_mode)) return make_error("disk image " + path + " is not a regular file");
  const uint64_t size = static_cast<uint64_t>(info.st_size);
  if (size == 0 || size % 512 != 0) {
    return make_error("disk image " + path + " is " + std::to_string(size) +
                      " bytes, not a positive multiple of 512");
  }
  // The serial: the image's device and inode, stable across runs.
  std::string serial = "vmhive-" + std::to_string(info.st_ino);
  serial.resize(std::min<size_t>(serial.size(), 20));
  return std::unique_ptr<RawImage>(new RawImage(std::move(fd), size, read_only, serial));
}

Result<void> RawImage::read(uint64_t offset, std::span<uint8_t> data) { return read_fully(fd_.get(), offset, data); }

Result<void> RawImage::write(uint64_t offset, std::span<const uint8_t> data) {
  if (read_only_) return make_error("the disk is read-only");
  return write_fully(fd_.get(), offset, data);
}

Result<void> RawImage::flush() {
  if (read_only_) return {};
  if (::fdatasync(fd_.get()) < 0) return errno_error("fdatasync failed");
  return {};
}

Result<void> RawImage::zero(uint64_t offset, uint64_t length, bool may_deallocate) {
  if (read_only_) return make_error("the disk is read-only");
  const int mode = may_deallocate ? (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) : FALLOC_FL_ZERO_RANGE;
  if (::fallocate(fd_.get(), mode, static_cast<off_t>(offset), static_cast<off_t>(length)) == 0) return {};
  // A file system without either: write zeros.
  std::vector<uint8_t> zeros(std::min<uint64_t>(length, 1 << 20), 0);
  for (uint64_t done = 0; done < length;) {
    const uint64_t chunk = std::min<uint64_t>(zeros.size(), length - done);
    VMHIVE_CHECK(write_fully(fd_.get(), offset + done, std::span(zeros).first(chunk)));
    done += chunk;
  }
  return {};
}

}  // namespace vmhive::virtio
