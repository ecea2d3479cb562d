#include "vmm/console.h"
#include "common/errno_error.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vmhive {

Result<ConsoleOutput> ConsoleOutput::open(const std::string& target) {
  if (target == "stdio") return ConsoleOutput(UniqueFd());
  int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno_error("cannot open console file", target);
  return ConsoleOutput(UniqueFd(fd));
}

void ConsoleOutput::write(uint8_t byte) const {
  int fd = file_.valid() ? file_.get() : STDOUT_FILENO;
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
