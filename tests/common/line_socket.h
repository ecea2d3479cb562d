// A client for vmhive's line protocols on Unix sockets (a VM's control
// socket, the clone server's): connect, send one line, read the reply line.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>

namespace vmhive::testing {

// A connected stream socket to `path`, or -1.
inline int connect_unix(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends `line` and a newline and returns the reply line with its newline
// (empty if the socket refused, closed or gave nothing within `timeout`).
inline std::string request_line(const std::string& path, const std::string& line,
                                std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  const int fd = connect_unix(path);
  if (fd < 0) return {};
  const std::string text = line + "\n";
  std::string reply;
  if (::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size())) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buffer[512];
    while (reply.find('\n') == std::string::npos) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      pollfd ready{fd, POLLIN, 0};
      if (left <= 0 || ::poll(&ready, 1, static_cast<int>(left)) <= 0) break;
      const ssize_t got = ::read(fd, buffer, sizeof buffer);
      if (got <= 0) break;
      reply.append(buffer, static_cast<size_t>(got));
    }
  }
  ::close(fd);
  return reply;
}

}  // namespace vmhive::testing
