// The server side of a control socket (a VM's --control, the clone server's
// --socket): one request line per connection, one reply line back, served
// from the owner's event loop without ever blocking it.
//
// What a client on the same host cannot do to the VM behind the socket:
//   - connect unless it runs as the VMM's user or root (SO_PEERCRED); the
//     socket file is 0600 whatever the umask (unix_listener.h);
//   - delay the guest, its console, its signals or another client: every
//     connection is non-blocking, read and written a piece at a time as the
//     loop polls, and dropped when it has not sent its line (or taken its
//     reply) within the timeout;
//   - hold more than `max_connections` at once (more are told so and closed);
//   - have the VMM replace a file at the socket's path that is not a stale
//     socket (nothing else is ever unlinked).
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <list>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "control/request_reader.h"
#include "control/unix_listener.h"

namespace vmhive::control {

struct ServerLimits {
  size_t max_connections = 16;
  size_t max_request_bytes = 64 * 1024;
  std::chrono::milliseconds timeout{5000};  // to send the request, and to take the reply
  int backlog = 128;
};

class ControlServer {
 public:
  using Handler = std::function<std::string(std::string_view request)>;

  static Result<ControlServer> listen(const std::string& path, ServerLimits limits = {});
  ControlServer(ControlServer&&) = default;
  ControlServer& operator=(ControlServer&&) = delete;
  ~ControlServer() = default;  // the listener removes the socket file

  // Appends what to poll: the listening socket and each connection (for
  // reading its request or writing its reply).
  void add_poll_fds(std::vector<pollfd>& fds) const;
  // How long a poll may sleep before a connection's deadline (ms), -1 if none.
  int poll_timeout_ms() const;
  // Accepts waiting clients, reads what they sent, answers each complete
  // request with `handler` (its reply line, newline included), writes what
  // it can, and closes connections that are done, refused or too slow.
  // Never blocks; call it whenever poll returns.
  void serve(const Handler& handler);

  size_t connection_count() const { return connections_.size(); }
  const std::string& path() const { return listener_.path(); }

 private:
  using Clock = std::chrono::steady_clock;
  struct Connection {
    UniqueFd fd;
    RequestReader reader;
    std::string reply;  // what is left to write; empty until the request is answered
    bool answered = false;
    std::string refusal;  // non-empty: a peer that may not control the VM; its request gets this error
    Clock::time_point deadline;
  };

  ControlServer(UnixListener listener, ServerLimits limits) : listener_(std::move(listener)), limits_(limits) {}
  void accept_waiting();
  // false when the connection is finished (answered and written, or dropped).
  bool advance(Connection& connection, const Handler& handler);

  UnixListener listener_;
  ServerLimits limits_;
  std::list<Connection> connections_;
};

}  // namespace vmhive::control
