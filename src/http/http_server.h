// An HTTP/1.1 server on a Unix socket, served from its owner's poll loop
// without ever blocking it: the daemon's API (vmhived) and a VM's
// Firecracker-compatible API (vmhive run --api-sock) both sit on it.
// Requests are parsed by Boost.Beast (http_request_reader.h) and responses
// written by it (http_response_writer.h); this file owns the sockets, the
// limits and the order of things. The socket file itself is made and guarded
// as every other served socket (control/unix_listener.h).
//
// HTTP/1.1 semantics: a connection carries requests one after another
// (keep-alive, pipelining: each is answered in order) until the client sends
// "Connection: close" or speaks HTTP/1.0, or an error closes it.
//
// What a client on the same host cannot do to the owner:
//   - connect unless it runs as root, as the owner's user or as one of the
//     allowed uids (SO_PEERCRED; refused with 403); the socket file is 0600
//     (fchmod before bind), optionally chowned to a configured owner;
//   - delay the loop or other clients: every connection is non-blocking,
//     dropped when a request does not arrive whole within the timeout, and
//     when a keep-alive connection idles past it;
//   - hold more than max_connections (more get a 503 and are closed), send
//     a header block or body over the limits (431, 413), or send what is
//     not HTTP (400) — each a JSON error through ServerOptions::error_body;
//   - grow a stream's unsent data without bound (a stream whose client reads
//     too slowly is closed).
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "http/http_message.h"

namespace vmhive::http {

using ConnectionId = uint64_t;

// The handler gets the id of the request's connection: for a streamed
// response, the id under which the owner sends its chunks.
using Handler = std::function<Response(const Request& request, ConnectionId connection)>;

struct ServerOptions {
  size_t max_connections = 1024;
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1024 * 1024;
  size_t max_stream_backlog = 1024 * 1024;   // unsent stream bytes before the stream is dropped
  std::chrono::milliseconds timeout{10000};  // to send a whole request; to take a reply; keep-alive idle
  int backlog = 512;
  std::vector<uid_t> allowed_uids{};                      // besides root and the server's own euid
  std::optional<std::pair<uid_t, gid_t>> socket_owner{};  // chown the socket file to this
  // The body of an error the server itself answers (400, 403, 413, 431,
  // 503, ...): the daemon says {"error": ...}, the Firecracker API
  // {"fault_message": ...}. Unset: {"error": message}.
  std::function<std::string(int status, std::string_view message)> error_body{};
  // Called once for every streamed connection that ends, whatever the reason
  // (the client went away, its backlog or deadline was exceeded, or the owner
  // ended it and the last bytes were written). Called from serve() only,
  // never from send_chunk/end_stream (so the owner may call those while
  // walking its own streams), and not for streams open when the server is
  // destroyed.
  std::function<void(ConnectionId)> on_stream_closed{};
};

class HttpServer {
 public:
  // Binds `path` (a stale socket there is replaced; any other file is an
  // error, never removed) and listens.
  static Result<HttpServer> listen(const std::string& path, ServerOptions options);
  // Listens on TCP, IPv4 `address`:`port` (a read-only view such as the
  // daemon's dashboard: TCP has no peer credentials, so every client is
  // served, with peer_uid kTcpPeer; allowed_uids and socket_owner do not apply).
  static Result<HttpServer> listen_tcp(const std::string& address, uint16_t port, ServerOptions options);
  static constexpr uid_t kTcpPeer = static_cast<uid_t>(-1);
  HttpServer(HttpServer&&) noexcept;
  HttpServer& operator=(HttpServer&&) = delete;
  ~HttpServer();  // removes the socket file

  // Appends what to poll: the listening socket and each connection.
  void add_poll_fds(std::vector<pollfd>& fds) const;
  // How long a poll may sleep before the next deadline (ms), -1 if none.
  int poll_timeout_ms() const;
  // Accepts, reads, answers complete requests with `handler`, writes, and
  // closes what is done, refused or too slow. Never blocks; call it whenever
  // poll returns (whatever it returned).
  void serve(const Handler& handler);

  // For streamed responses, after the handler returned: queue a chunk / end
  // the stream (the bytes go out as serve() writes them). Unknown or closed
  // ids are ignored (the stream may have gone since); so is an empty chunk.
  void send_chunk(ConnectionId connection, std::string_view data);
  void end_stream(ConnectionId connection);
  // The answer to a deferred request (Response::deferred), written as the
  // handler's would have been. Unknown ids and connections not waiting for
  // one are ignored; a streamed or deferred `response` is a 500.
  void respond(ConnectionId connection, const Response& response);

  size_t connection_count() const;
  const std::string& path() const;

 private:
  struct State;
  explicit HttpServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace vmhive::http
