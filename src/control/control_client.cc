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

PendingRequest::PendingRequest(std::string path, std::string request, Clock::time_point deadline,
                               bool wait_for_socket)
    : path_(std::move(path)),
      request_(std::move(request) + "\n"),
      deadline_(deadline),
      wait_for_socket_(wait_for_socket),
      reader_(kMaxReplyBytes) {}

Clock::time_point PendingRequest::next_wake() const {
  return fd_.valid() ? deadline_ : std::min(deadline_, next_try_);
}

std::optional<Result<std::string>> PendingRequest::try_connect() {
  auto address = unix_address(path_);
  if (!address.ok()) return Result<std::string>(address.error());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return Result<std::string>(errno_error("socket failed"));
  // A Unix stream connect completes at once or fails (EAGAIN: the VM's
  // backlog is full, as good as no answer); a request line fits the buffer.
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof *address) != 0) {
    const int error = errno;
    if (wait_for_socket_ && error == ENOENT && Clock::now() < deadline_) {
      next_try_ = Clock::now() + std::chrono::milliseconds(10);
      return std::nullopt;
    }
    errno = error;
    return Result<std::string>(errno_error("cannot reach the VM at control socket", path_));
  }
  if (::send(fd.get(), request_.data(), request_.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request_.size()))
    return Result<std::string>(errno_error("cannot send to control socket", path_));
  fd_ = std::move(fd);
  return std::nullopt;
}

std::optional<Result<std::string>> PendingRequest::advance() {
  if (!fd_.valid()) {
    if (Clock::now() < next_try_) return std::nullopt;
    if (auto failed = try_connect()) return failed;
    if (!fd_.valid()) return std::nullopt;
  }
  char buffer[4096];
  for (;;) {
    const ssize_t got = ::read(fd_.get(), buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (Clock::now() >= deadline_)
        return Result<std::string>(make_error("control socket " + path_ + ": timed out waiting for the reply"));
      return std::nullopt;
    }
    if (got < 0 && errno != ECONNRESET)
      return Result<std::string>(with_context("control socket " + path_, errno_error("read failed")));
    if (got <= 0) {  // the end, or a reset: the VM ended with the request unread
      auto last = reader_.finish();
      // The VM went away in the middle (it ended, most likely): a conflict with its state, not a fault here.
      if (!last.ok())
        return Result<std::string>(make_error(ErrorKind::kConflict, "control socket " + path_ +
                                                                        ": the VM closed it without a reply (did it end?)"));
      return last;
    }
    auto fed = reader_.feed(std::span<const char>(buffer, static_cast<size_t>(got)));
    if (!fed.ok()) return Result<std::string>(with_context("control socket " + path_, fed.error()));
    if (fed->has_value()) return Result<std::string>(std::move(**fed));
  }
}

std::vector<Result<std::string>> send_to_each(const std::vector<std::string>& paths, const std::string& request,
                                              std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::vector<PendingRequest> pending;
  std::vector<std::optional<Result<std::string>>> replies(paths.size());
  pending.reserve(paths.size());
  for (size_t i = 0; i < paths.size(); ++i) {
    pending.emplace_back(paths[i], request, deadline, false);
    replies[i] = pending[i].advance();
  }
  std::vector<pollfd> polled;
  std::vector<size_t> owners;
  for (;;) {
    polled.clear();
    owners.clear();
    for (size_t i = 0; i < pending.size(); ++i) {
      if (replies[i] || pending[i].fd() < 0) continue;
      polled.push_back({pending[i].fd(), POLLIN, 0});
      owners.push_back(i);
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (polled.empty()) break;
    if (left <= 0) {
      for (size_t i : owners) replies[i] = Result<std::string>(make_error("timed out waiting for the reply"));
      break;
    }
    const int ready = ::poll(polled.data(), polled.size(), static_cast<int>(left));
    if (ready < 0 && errno != EINTR) break;
    for (size_t k = 0; k < polled.size(); ++k)
      if (polled[k].revents != 0) replies[owners[k]] = pending[owners[k]].advance();
  }
  std::vector<Result<std::string>> results;
  results.reserve(paths.size());
  for (auto& reply : replies)
    results.push_back(reply ? std::move(*reply) : Result<std::string>(make_error("timed out waiting for the reply")));
  return results;
}

}  // namespace vmhive::control
