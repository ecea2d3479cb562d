#include "control/control_server.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "control/control_request.h"

namespace vmhive::control {
namespace {

// Best effort: the client gets one line saying why, if it is listening.
void tell_and_close(UniqueFd fd, std::string_view why) {
  const std::string line = error_reply(why);
  (void)!::send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

}  // namespace

Result<ControlServer> ControlServer::listen(const std::string& path, ServerLimits limits) {
  auto listener = UnixListener::listen(path, ListenOptions{.backlog = limits.backlog});
  if (!listener.ok()) return with_context("control socket", listener.error());
  return ControlServer(std::move(*listener), limits);
}

void ControlServer::add_poll_fds(std::vector<pollfd>& fds) const {
  fds.push_back({listener_.fd(), POLLIN, 0});
  for (const Connection& connection : connections_)
    fds.push_back({connection.fd.get(), static_cast<short>(connection.answered ? POLLOUT : POLLIN), 0});
}

int ControlServer::poll_timeout_ms() const {
  if (connections_.empty()) return -1;
  Clock::time_point first = connections_.front().deadline;
  for (const Connection& connection : connections_) first = std::min(first, connection.deadline);
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(first - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left + 1, 0, limits_.timeout.count() + 1));
}

void ControlServer::accept_waiting() {
  for (;;) {
    UniqueFd client = listener_.accept();
    if (!client.valid()) return;  // EAGAIN: nobody else is waiting (or a transient error)
    if (connections_.size() >= limits_.max_connections) {
      tell_and_close(std::move(client), "too many connections; try again");
      continue;
    }
    // A peer that may not control the VM is heard out like any other (so
    // that it reads why, not a reset connection) and answered with the refusal.
    auto allowed = check_peer(client.get());
    connections_.push_back(Connection{std::move(client), RequestReader(limits_.max_request_bytes), {}, false,
                                      allowed.ok() ? std::string() : allowed.error().message,
                                      Clock::now() + limits_.timeout});
  }
}

bool ControlServer::advance(Connection& connection, const Handler& handler) {
  if (Clock::now() >= connection.deadline) return false;
  if (!connection.answered) {
    char buffer[4096];
    for (;;) {
      const ssize_t count = ::recv(connection.fd.get(), buffer, sizeof buffer, MSG_DONTWAIT);
      if (count < 0 && errno == EINTR) continue;
      if (count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;  // more later
      Result<std::optional<std::string>> line = std::optional<std::string>();
      if (count <= 0) {
        auto last = connection.reader.finish();
        if (!last.ok()) return false;  // closed, or failed, without a request: nothing to answer
        line = std::optional<std::string>(std::move(*last));
      } else {
        line = connection.reader.feed(std::span<const char>(buffer, static_cast<size_t>(count)));
      }
      if (!line.ok()) {
        connection.reply = error_reply(line.error().message);
      } else if (!line->has_value()) {
        continue;
      } else if (!connection.refusal.empty()) {
        connection.reply = error_reply(connection.refusal);
      } else {
        connection.reply = handler(**line);
      }
      connection.answered = true;
      connection.deadline = Clock::now() + limits_.timeout;
      break;
    }
  }
  while (!connection.reply.empty()) {
    const ssize_t sent =
        ::send(connection.fd.get(), connection.reply.data(), connection.reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (sent <= 0) return false;  // the client went away
    connection.reply.erase(0, static_cast<size_t>(sent));
  }
  return false;  // answered and written: done
}

void ControlServer::serve(const Handler& handler) {
  accept_waiting();
  for (auto it = connections_.begin(); it != connections_.end();) {
    it = advance(*it, handler) ? std::next(it) : connections_.erase(it);
  }
}

}  // namespace vmhive::control
