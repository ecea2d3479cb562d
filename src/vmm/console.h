// The host side of the serial console: where guest output goes, the
// terminal in raw mode while the guest owns it, and the escape sequence
// that lets a user leave (Ctrl-A x, as in QEMU).
#pragma once

#include <termios.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace vmhive {

class ConsoleOutput {
 public:
  static constexpr uint64_t kDefaultLimit = 64ull << 20;

  // "stdio" writes to standard output; anything else is a file, created 0600
  // (or emptied), never through a link and never one with other names; a
  // FIFO or a character device is written as it is. At most `limit` bytes go
  // to a file (a guest must not fill the host's disk); then one line says
  // the output stopped, and the rest is dropped.
  static Result<ConsoleOutput> open(const std::string& target, uint64_t limit = kDefaultLimit);
  // Called with the UART's lock held (one writer at a time).
  void write(uint8_t byte);
  bool is_stdio() const { return !file_.valid(); }

 private:
  ConsoleOutput(UniqueFd file, uint64_t limit) : file_(std::move(file)), limit_(limit) {}
  UniqueFd file_;  // invalid: standard output
  uint64_t limit_;
  uint64_t written_ = 0;
};

// Puts a terminal into raw mode and restores it when destroyed, so every
// way out of vmhive that unwinds leaves the user's terminal as it was.
class RawTerminal {
 public:
  static std::optional<RawTerminal> enter(int fd);
  RawTerminal(RawTerminal&& other) noexcept;
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
  RawTerminal& operator=(RawTerminal&&) = delete;
  ~RawTerminal();

 private:
  RawTerminal(int fd, const termios& saved) : fd_(fd), saved_(saved) {}
  int fd_;
  termios saved_;
};

// Ctrl-A x quits; Ctrl-A Ctrl-A sends one Ctrl-A to the guest.
class ConsoleEscape {
 public:
  static constexpr uint8_t kEscape = 0x01;
  // Returns the bytes meant for the guest; sets quit_requested() on Ctrl-A x.
  std::vector<uint8_t> filter(std::span<const uint8_t> input);
  bool quit_requested() const { return quit_; }

 private:
  bool pending_escape_ = false;
  bool quit_ = false;
};

}  // namespace vmhive
