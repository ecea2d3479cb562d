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

std::vector<Result<std::string>> send_to_each(const std::vector<std::string>& paths, const std::string& request,
                                              std::chrono::milliseconds timeout) {
  struct Pending {
    UniqueFd fd;
    RequestReader reader{kMaxReplyBytes};
  };
  std::vector<Result<std::string>> replies(paths.size(), make_error("timed out waiting for the reply"));
  std::vector<Pending> pending(paths.size());
  const std::string line = request + "\n";
  for (size_t i = 0; i < paths.size(); ++i) {
    auto address = unix_address(paths[i]);
    if (!address.ok()) {
      replies[i] = address.error();
      continue;
    }
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) {
      replies[i] = errno_error("socket failed");
      continue;
    }
    // A Unix stream connect completes at once or fails (EAGAIN: the VM's
    // backlog is full, as good as no answer); a request line fits the buffer.
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof *address) != 0) {
      replies[i] = errno_error("cannot reach the VM at control socket", paths[i]);
      continue;
    }
    if (::send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
      replies[i] = errno_error("cannot send to control socket", paths[i]);
      continue;
    }
    pending[i].fd = std::move(fd);
  }
  const auto deadline = Clock::now() + timeout;
  std::vector<pollfd> polled;
  std::vector<size_t> owners;
  char buffer[4096];
  for (;;) {
    polled.clear();
    owners.clear();
    for (size_t i = 0; i < pending.size(); ++i) {
      if (!pending[i].fd.valid()) continue;
      polled.push_back({pending[i].fd.get(), POLLIN, 0});
      owners.push_back(i);
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (polled.empty() || left <= 0) break;
    const int ready = ::poll(polled.data(), polled.size(), static_cast<int>(left));
    if (ready < 0 && errno != EINTR) break;
    for (size_t k = 0; ready > 0 && k < polled.size(); ++k) {
      if (polled[k].revents == 0) continue;
      const size_t i = owners[k];
      const ssize_t got = ::read(pending[i].fd.get(), buffer, sizeof buffer);
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      std::optional<Result<std::string>> done;
      if (got < 0) {
        done = errno_error("read failed");
      } else if (got == 0) {
        auto last = pending[i].reader.finish();
        done = last.ok() ? std::move(last) : Result<std::string>(make_error("the connection closed without a reply"));
      } else {
        auto fed = pending[i].reader.feed(std::span<const char>(buffer, static_cast<size_t>(got)));
        if (!fed.ok()) {
          done = fed.error();
        } else if (fed->has_value()) {
          done = std::move(**fed);
        }
      }
      if (!done) continue;
      replies[i] = done->ok() ? std::move(*done) : with_context("control socket " + paths[i], done->error());
      pending[i].fd = UniqueFd();
    }
  }
  return replies;
}

}  // namespace vmhive::control
