#include "control/control_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/errno_error.h"
#include "common/fd_io.h"
#include "control/control_request.h"

namespace vmhive::control {
namespace {

using Clock = std::chrono::steady_clock;

Result<sockaddr_un> address_of(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof address.sun_path)
    return make_error("control socket path '" + path + "' is empty or longer than " +
                      std::to_string(sizeof address.sun_path - 1) + " bytes");
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}

Error system_error(const std::string& what) { return errno_error(what); }

// Reads up to a newline (not included) within the deadline.
Result<std::string> read_line(int fd, Clock::time_point deadline, size_t limit) {
  std::string line;
  char buffer[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return make_error("timed out waiting for a line");
    pollfd ready{fd, POLLIN, 0};
    int polled = ::poll(&ready, 1, static_cast<int>(left));
    if (polled < 0 && errno != EINTR) return system_error("poll");
    if (polled <= 0) continue;
    ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got < 0) return system_error("read");
    if (got == 0) return line.empty() ? Result<std::string>(make_error("connection closed without a line")) : line;
    line.append(buffer, static_cast<size_t>(got));
    if (auto newline = line.find('\n'); newline != std::string::npos) return line.substr(0, newline);
    if (line.size() > limit) return make_error("line longer than " + std::to_string(limit) + " bytes");
  }
}

}  // namespace

Result<ControlSocket> ControlSocket::listen(const std::string& path) {
  const sockaddr_un address = VMHIVE_TRY(address_of(path));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return system_error("control socket");
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    if (errno != EADDRINUSE) return system_error("control socket " + path);
    // In use: live if something accepts a connection, else a leftover file.
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0)
      return make_error("control socket " + path + " is in use by another process");
    if (::unlink(path.c_str()) != 0 ||
        ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
      return system_error("control socket " + path);
  }
  if (::listen(fd.get(), 8) != 0) return system_error("listen on control socket " + path);
  return ControlSocket(std::move(fd), path);
}

ControlSocket::~ControlSocket() {
  if (fd_.valid()) ::unlink(path_.c_str());
}

Result<Connection> ControlSocket::accept_request(std::chrono::milliseconds timeout) const {
  UniqueFd client(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!client.valid()) return system_error("accept on control socket");
  auto line = read_line(client.get(), Clock::now() + timeout, kMaxRequestBytes);
  if (!line.ok()) {
    reply(Connection{std::move(client), {}}, error_reply(line.error().message));
    return line.error();
  }
  return Connection{std::move(client), std::move(*line)};
}

void ControlSocket::reply(const Connection& connection, const std::string& line) {
  (void)write_fully(connection.fd.get(), line);  // a client that went away has nothing to be told
}

Result<std::string> send_request(const std::string& path, const std::string& request,
                                 std::chrono::milliseconds timeout) {
  const sockaddr_un address = VMHIVE_TRY(address_of(path));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return system_error("socket");
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
    return system_error("cannot reach the VM at control socket " + path);
  VMHIVE_CHECK(write_fully(fd.get(), request + "\n"));
  auto reply = read_line(fd.get(), Clock::now() + timeout, 1 << 20);
  if (!reply.ok()) return with_context("control socket " + path, reply.error());
  return reply;
}

}  // namespace vmhive::control
