// The Unix socket a VM process listens on for control requests, and the
// client side the CLI uses. One request per connection: a line in, a line out.
#pragma once

#include <chrono>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace vmhive::control {

// A client that sent one request line and waits for the reply.
struct Connection {
  UniqueFd fd;
  std::string line;  // the request, without its newline
};

class ControlSocket {
 public:
  // Binds and listens at `path`. A leftover socket file nobody listens on is
  // replaced; a live one is an error (another VM uses that path).
  static Result<ControlSocket> listen(const std::string& path);
  ControlSocket(ControlSocket&&) = default;
  ControlSocket& operator=(ControlSocket&&) = default;
  ~ControlSocket();  // removes the socket file

  int fd() const { return fd_.get(); }
  // Accepts a waiting client and reads its line (waiting up to `timeout`).
  Result<Connection> accept_request(std::chrono::milliseconds timeout) const;
  static void reply(const Connection& connection, const std::string& line);

 private:
  ControlSocket(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  UniqueFd fd_;
  std::string path_;
};

// Connects to `path`, sends `request` (one line) and returns the reply line.
Result<std::string> send_request(const std::string& path, const std::string& request,
                                 std::chrono::milliseconds timeout);

}  // namespace vmhive::control
