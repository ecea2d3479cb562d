// The client side of a control socket (`vmhive snapshot` asking a VM):
// connect, send one request line, read the one reply line.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "control/request_reader.h"

namespace vmhive::control {

// Connects to `path`, sends `request` (one line) and returns the reply line.
Result<std::string> send_request(const std::string& path, const std::string& request,
                                 std::chrono::milliseconds timeout);

// One request on a control socket made without blocking, for an event loop:
// it connects and sends at once if it can (a socket not there yet, as with
// a VM still being built, is tried again every 10 ms when `wait_for_socket`),
// then collects the reply line as poll finds fd() readable.
class PendingRequest {
 public:
  using Clock = std::chrono::steady_clock;
  PendingRequest(std::string path, std::string request, Clock::time_point deadline, bool wait_for_socket);

  // The socket to poll for POLLIN; -1 while not connected.
  int fd() const { return fd_.get(); }
  // When advance() is due even if fd() stays quiet: the next connect try, or the deadline.
  Clock::time_point next_wake() const;
  // Reads what has arrived (or tries to connect again): the reply once it is
  // whole, the error once it failed or the deadline passed, nothing while it waits.
  std::optional<Result<std::string>> advance();

 private:
  std::optional<Result<std::string>> try_connect();

  std::string path_;
  std::string request_;
  Clock::time_point deadline_;
  bool wait_for_socket_;
  Clock::time_point next_try_{};
  UniqueFd fd_;
  RequestReader reader_;
};

// The same request to every socket in `paths` at once, all answers awaited
// together until one deadline: what a daemon asks of all its VMs costs the
// slowest answer, not their sum, and a VM that does not answer costs at
// most `timeout`. One result per path, in order.
std::vector<Result<std::string>> send_to_each(const std::vector<std::string>& paths, const std::string& request,
                                              std::chrono::milliseconds timeout);

}  // namespace vmhive::control
