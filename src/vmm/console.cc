#include "vmm/console.h"
#include "common/errno_error.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

namespace vmhive {

Result<ConsoleOutput> ConsoleOutput::open(const std::string& target, uint64_t limit) {
  if (target == "stdio") return ConsoleOutput(UniqueFd(), UINT64_MAX);
  // Not O_TRUNC: a file is emptied only once it is known to be this
  // console's own (a planted hard link to another file is refused first).
  UniqueFd fd(::open(target.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    if (errno == ELOOP) return make_error("console file " + target + " is a symbolic link; refusing to write through it");
    return errno_error("cannot open console file", target);
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) return errno_error("console file", target);
  if (S_ISREG(info.st_mode)) {
    if (info.st_nlink != 1) return make_error("console file " + target + " has other names (a hard link?); refusing to empty it");
    if (::ftruncate(fd.get(), 0) != 0) return errno_error("cannot empty console file", target);
    return ConsoleOutput(std::move(fd), limit);
  }
  if (!S_ISFIFO(info.st_mode) && !S_ISCHR(info.st_mode))
    return make_error("console file " + target + " is neither a regular file, a FIFO nor a character device");
  return ConsoleOutput(std::move(fd), UINT64_MAX);
}

void ConsoleOutput::write(uint8_t byte) {
  int fd = file_.valid() ? file_.get() : STDOUT_FILENO;
  if (written_ >= limit_) return;
  if (++written_ == limit_) {
    const std::string note = "\n[vmhive: console output stopped here, at the limit of " + std::to_string(limit_) +
                             " bytes (--console-limit)]\n";
    (void)!::write(fd, note.data(), note.size());
    return;
  }
  // The console must never block or kill the guest: a closed pipe or a full
  // disk loses output, nothing more (SIGPIPE is ignored by the VMM).
  ssize_t written;
  do {
    written = ::write(fd, &byte, 1);
  } while (written < 0 && errno == EINTR);
}

std::optional<RawTerminal> RawTerminal::enter(int fd) {
  if (!::isatty(fd)) return std::nullopt;
  termios saved{};
  if (::tcgetattr(fd, &saved) != 0) return std::nullopt;
  termios raw = saved;
  ::cfmakeraw(&raw);
  // Keep output post-processing so a guest's bare "\n" still starts a new line.
  raw.c_oflag |= OPOST | ONLCR;
  if (::tcsetattr(fd, TCSANOW, &raw) != 0) return std::nullopt;
  return RawTerminal(fd, saved);
}

RawTerminal::RawTerminal(RawTerminal&& other) noexcept : fd_(other.fd_), saved_(other.saved_) { other.fd_ = -1; }

RawTerminal::~RawTerminal() {
  if (fd_ >= 0) ::tcsetattr(fd_, TCSANOW, &saved_);
}

std::vector<uint8_t> ConsoleEscape::filter(std::span<const uint8_t> input) {
  std::vector<uint8_t> out;
  out.reserve(input.size());
  for (uint8_t byte : input) {
    if (pending_escape_) {
      pending_escape_ = false;
      if (byte == 'x' || byte == 'X') {
        quit_ = true;
        return out;
      }
      if (byte == kEscape) out.push_back(kEscape);
      continue;  // other escapes are reserved and swallowed
    }
    if (byte == kEscape) {
      pending_escape_ = true;
      continue;
    }
    out.push_back(byte);
  }
  return out;
}

}  // namespace vmhive
