// An HTTP/1.1 server on a Unix socket, served from its owner's poll loop
// without ever blocking it: the daemon's API (vmhived) and a VM's
// Firecracker-compatible API (vmhive run --api-sock) both sit on it.
// Requests are parsed by Boost.Beast (http_request_reader.h); this file owns
// the sockets, the limits and the order of things.
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
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace vmhive::http {

struct Request {
  std::string method;                       // "GET", "PUT", ...
  std::string target;                       // as sent: "/vms/web-1?follow=1"
  std::string path;                         // the target without its query: "/vms/web-1"
  std::map<std::string, std::string> query;  // "follow" -> "1" (percent-decoded)
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  uid_t peer_uid = 0;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones
  // A streamed response: the headers go out at once (chunked), then the
  // owner sends chunks with HttpServer::send_chunk(stream id) until it ends
  // the stream or the client goes away. `body`, if any, is the first chunk.
  bool stream = false;
};

using ConnectionId = uint64_t;

// The handler gets the id of the request's connection: for a streamed
// response, the id under which the owner sends its chunks.
using Handler = std::function<Response(const Request& request, ConnectionId connection)>;

struct ServerOptions {
  size_t max_connections = 1024;
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1024 * 1024;
  size_t max_stream_backlog = 1024 * 1024;  // unsent stream bytes before the stream is dropped
  std::chrono::milliseconds timeout{10000};  // to send a whole request; to take a reply; keep-alive idle
  int backlog = 512;
  std::vector<uid_t> allowed_uids;  // besides root and the server's own euid
  std::optional<std::pair<uid_t, gid_t>> socket_owner;  // chown the socket file to this
  // The body of an error the server itself answers (400, 403, 413, 431,
  // 503, ...): the daemon says {"error": ...}, the Firecracker API
  // {"fault_message": ...}.
  std::function<std::string(int status, std::string_view message)> error_body;
  // Called when a streamed connection ends (client gone, dropped, or ended).
  std::function<void(ConnectionId)> on_stream_closed;
};

class HttpServer {
 public:
  // Binds `path` (a stale socket there is replaced; any other file is an
  // error, never removed) and listens.
  static Result<HttpServer> listen(const std::string& path, ServerOptions options);
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

  // For streamed responses: queue a chunk / end the stream. Unknown or
  // closed ids are ignored (the stream may have gone since).
  void send_chunk(ConnectionId connection, std::string_view data);
  void end_stream(ConnectionId connection);

  size_t connection_count() const;
  const std::string& path() const;

 private:
  struct State;
  explicit HttpServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace vmhive::http
