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
  // "stdio" writes to standard output; anything else is a file to create.
  static Result<ConsoleOutput> open(const std::string& target);
  void write(uint8_t byte) const;
  bool is_stdio() const { return !file_.valid(); }

 private:
  explicit ConsoleOutput(UniqueFd file) : file_(std::move(file)) {}
  UniqueFd file_;  // invalid: standard output
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
