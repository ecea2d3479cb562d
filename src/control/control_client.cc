#include "control/control_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/errno_error.h"
#include "common/fd_io.h"
#include "common/unique_fd.h"
#include "control/request_reader.h"
#include "control/unix_address.h"

namespace vmhive::control {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxReplyBytes = 1 << 20;

// The reply line, read as it arrives until the deadline.
Result<std::string> read_reply(int fd, Clock::time_point deadline) {
  RequestReader reader(kMaxReplyBytes);
  char buffer[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return make_error("timed out waiting for the reply");
    pollfd ready{fd, POLLIN, 0};
    const int polled = ::poll(&ready, 1, static_cast<int>(left));
    if (polled < 0 && errno != EINTR) return errno_error("poll failed");
    if (polled <= 0) continue;
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got < 0) return errno_error("read failed");
    if (got == 0) {
      auto last = reader.finish();
      if (!last.ok()) return make_error("the connection closed without a reply");
      return last;
    }
    auto line = reader.feed(std::span<const char>(buffer, static_cast<size_t>(got)));
    if (!line.ok()) return line.error();
    if (line->has_value()) return std::move(**line);
  }
}

}  // namespace

Result<std::string> send_request(const std::string& path, const std::string& request,
                                 std::chrono::milliseconds timeout) {
  const sockaddr_un address = VMHIVE_TRY(unix_address(path));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return errno_error("socket failed");
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
    return errno_error("cannot reach the VM at control socket", path);
  VMHIVE_CHECK(write_fully(fd.get(), request + "\n"));
  auto reply = read_reply(fd.get(), Clock::now() + timeout);
  if (!reply.ok()) return with_context("control socket " + path, reply.error());
  return reply;
}

}  // namespace vmhive::control
