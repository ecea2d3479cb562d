#include "clones/hold_protocol.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <string>
#include <string_view>

#include "common/errno_error.h"
#include "common/fd_io.h"

namespace vmhive::clones {
namespace {

constexpr std::string_view kReady = "ready";
constexpr std::string_view kGo = "go";
constexpr std::string_view kRunning = "running";
constexpr size_t kLongestLine = 16;  // every word and its newline fit

Result<void> say(int fd, std::string_view word) {
  auto written = write_fully(fd, std::string(word) + "\n");
  if (!written.ok()) return with_context("hold socket: saying \"" + std::string(word) + "\"", written.error());
  return {};
}

// Reads one line (a word and its newline) and returns the word; nullopt when
// the socket ends before its first byte. Without a deadline it waits as long
// as it takes.
Result<std::optional<std::string>> read_word(int fd, std::optional<Deadline> deadline) {
  if (fd < 0) return make_error("hold socket: no descriptor");  // poll would skip it and wait forever
  std::string line;
  for (;;) {
    int timeout_ms = -1;
    if (deadline) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return make_error("hold socket: no word before the deadline");
      timeout_ms = static_cast<int>(std::min<std::chrono::milliseconds::rep>(left.count(), 60'000));
    }
    pollfd readable{fd, POLLIN, 0};
    const int polled = ::poll(&readable, 1, timeout_ms);
    if (polled < 0 && errno != EINTR) return errno_error("hold socket: poll failed");
    if (polled <= 0) continue;
    char buffer[kLongestLine];
    const ssize_t count = ::read(fd, buffer, kLongestLine - line.size());
    if (count < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (count < 0) return errno_error("hold socket: read failed");
    if (count == 0) {
      if (line.empty()) return std::optional<std::string>();
      return make_error("hold socket: closed in the middle of a word");
    }
    line.append(buffer, static_cast<size_t>(count));
    if (const auto newline = line.find('\n'); newline != std::string::npos) {
      if (newline + 1 != line.size()) return make_error("hold socket: more than one word at once");
      line.pop_back();
      return std::optional<std::string>(line);
    }
    if (line.size() >= kLongestLine) return make_error("hold socket: a line too long for a word");
  }
}

// The server's waits: exactly `expected`, before the deadline.
Result<void> expect_word(int fd, std::string_view expected, Deadline deadline) {
  auto word = read_word(fd, deadline);
  if (!word.ok()) return with_context("waiting for \"" + std::string(expected) + "\"", word.error());
  if (!word->has_value())
    return make_error("the clone closed its hold socket before \"" + std::string(expected) + "\"");
  if (**word != expected)
    return make_error("the clone said \"" + (*word)->substr(0, 16) + "\" instead of \"" + std::string(expected) + "\"");
  return {};
}

}  // namespace

Result<HoldOutcome> hold_until_go(int fd) {
  // If saying "ready" fails, the server may have closed its end already:
  // what the socket holds then decides (its end lets the clone go).
  const Result<void> said = say(fd, kReady);
  auto word = read_word(fd, std::nullopt);
  if (!word.ok()) return word.error();
  if (!word->has_value()) return HoldOutcome::kLetGo;
  if (!said.ok()) return said.error();
  if (**word != kGo) return make_error("hold socket: \"" + (*word)->substr(0, 16) + "\" where \"go\" was expected");
  return HoldOutcome::kGo;
}

Result<void> announce_running(int fd) { return say(fd, kRunning); }

Result<void> wait_for_ready(int fd, Deadline deadline) { return expect_word(fd, kReady, deadline); }

Result<void> send_go(int fd) { return say(fd, kGo); }

Result<void> wait_for_running(int fd, Deadline deadline) { return expect_word(fd, kRunning, deadline); }

}  // namespace vmhive::clones
