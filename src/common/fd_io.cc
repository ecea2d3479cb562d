#include "common/fd_io.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/errno_error.h"

namespace vmhive {
namespace {

bool is_socket(int fd) {
  struct stat info {};
  return ::fstat(fd, &info) == 0 && S_ISSOCK(info.st_mode);
}

}  // namespace

Result<void> write_fully(int fd, std::span<const uint8_t> bytes) {
  const bool socket = is_socket(fd);
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t count = socket ? ::send(fd, bytes.data() + written, bytes.size() - written, MSG_NOSIGNAL)
                                 : ::write(fd, bytes.data() + written, bytes.size() - written);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) return errno_error("write failed");
    if (count == 0) return make_error("write failed: nothing was written");
    written += static_cast<size_t>(count);
  }
  return {};
}

Result<void> write_fully(int fd, std::string_view text) {
  return write_fully(fd, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

Result<void> pwrite_fully(int fd, std::span<const uint8_t> bytes, uint64_t offset) {
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t count =
        ::pwrite(fd, bytes.data() + written, bytes.size() - written, static_cast<off_t>(offset + written));
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) return errno_error("write failed");
    if (count == 0) return make_error("write failed: nothing was written");
    written += static_cast<size_t>(count);
  }
  return {};
}

Result<size_t> read_fully(int fd, std::span<uint8_t> buffer) {
  size_t done = 0;
  while (done < buffer.size()) {
    const ssize_t count = ::read(fd, buffer.data() + done, buffer.size() - done);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) return errno_error("read failed");
    if (count == 0) break;
    done += static_cast<size_t>(count);
  }
  return done;
}

Result<void> pread_exactly(int fd, std::span<uint8_t> buffer, uint64_t offset) {
  size_t done = 0;
  while (done < buffer.size()) {
    const ssize_t count = ::pread(fd, buffer.data() + done, buffer.size() - done, static_cast<off_t>(offset + done));
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) return errno_error("read failed");
    if (count == 0) return make_error("read failed: the file ended early (it shrank while being read?)");
    done += static_cast<size_t>(count);
  }
  return {};
}

Result<std::vector<uint8_t>> read_to_end(int fd, size_t max_size) {
  std::vector<uint8_t> bytes;
  uint8_t chunk[65536];
  for (;;) {
    const ssize_t count = ::read(fd, chunk, sizeof chunk);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) return errno_error("read failed");
    if (count == 0) return bytes;
    if (bytes.size() + static_cast<size_t>(count) > max_size)
      return make_error("more than " + std::to_string(max_size) + " bytes");
    bytes.insert(bytes.end(), chunk, chunk + count);
  }
}

}  // namespace vmhive
