#include "http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <map>
#include <optional>

#include "common/errno_error.h"
#include "common/unique_fd.h"
#include "control/unix_listener.h"
#include "http/http_request_reader.h"
#include "http/http_response_writer.h"

namespace vmhive::http {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kReadPiece = 16 * 1024;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

enum class Phase {
  kReading,    // waiting for (the rest of) a request; `out` may hold a 100 Continue
  kReplying,   // `out` holds a reply; then the next request, or the close
  kStreaming,  // a streamed reply: chunks as the owner sends them, then the close
  kDeferred,   // the owner answers later (respond())
};

struct Connection {
  UniqueFd fd{};
  uid_t peer_uid = 0;
  std::string refusal{};  // non-empty: a peer that may not use the socket; its request gets a 403
  HttpRequestReader reader{};
  std::string pending{};  // bytes read past the last request: the start of the next (pipelining)
  std::string out{};      // what is left to write
  Phase phase = Phase::kReading;
  bool close_after_reply = false;
  bool continue_sent = false;
  bool chunked = true;          // a stream's framing (not for HTTP/1.0)
  bool stream_ended = false;    // end_stream() was called
  bool stream_dropped = false;  // send_chunk() found its backlog too large
  bool deferred_keep_alive = false;  // a deferred request's: kept for its answer
  bool deferred_head = false;
  Clock::time_point deadline{};
};

// Whatever the owner's error_body does, the client gets a status line.
std::string error_body(const ServerOptions& options, int status, std::string_view message) {
  try {
    if (options.error_body) return options.error_body(status, message);
    // The message may quote the request: replace what is not UTF-8.
    return nlohmann::json{{"error", message}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (...) {
    return {};
  }
}

// An error the server answers itself; the connection closes after it.
std::string error_reply(const ServerOptions& options, int status, std::string_view message) {
  return write_response(Response{.status = status, .body = error_body(options, status, message)}, false);
}

// The owner's handler is the owner's code: an exception from it becomes a
// 500 for this request, not the end of the serving loop.
Response call_handler(const Handler& handler, const Request& request, ConnectionId id, const ServerOptions& options) {
  try {
    return handler(request, id);
  } catch (const std::exception& error) {
    return Response{.status = 500, .body = error_body(options, 500, std::string("internal error: ") + error.what())};
  } catch (...) {
    return Response{.status = 500, .body = error_body(options, 500, "internal error")};
  }
}

}  // namespace

struct HttpServer::State {
  State(control::UnixListener listener_in, ServerOptions options_in)
      : listener(std::move(listener_in)), options(std::move(options_in)) {}
  State(UniqueFd tcp_in, std::string where, ServerOptions options_in)
      : tcp(std::move(tcp_in)), tcp_address(std::move(where)), options(std::move(options_in)) {}
  int listening_fd() const { return listener ? listener->fd() : tcp.get(); }

  void accept_waiting();
  // false when the connection is finished (done, dropped, gone or too slow).
  bool advance(ConnectionId id, Connection& connection, const Handler& handler);
  enum class Read { kGot, kWait, kGone, kFlush };
  Read read_request(Connection& connection, ReadOutcome& outcome);
  void answer(ConnectionId id, Connection& connection, ReadOutcome&& outcome, const Handler& handler);
  bool flush(Connection& connection);
  static bool still_there(Connection& connection);
  Clock::time_point deadline() const { return Clock::now() + options.timeout; }

  std::optional<control::UnixListener> listener;  // a Unix socket, or
  UniqueFd tcp;                                   // a TCP one
  std::string tcp_address;
  ServerOptions options;
  std::map<ConnectionId, Connection> connections;
  ConnectionId next_id = 1;
};

Result<HttpServer> HttpServer::listen(const std::string& path, ServerOptions options) {
  auto listener = control::UnixListener::listen(
      path, control::ListenOptions{.backlog = options.backlog, .owner = options.socket_owner});
  if (!listener.ok()) return with_context("HTTP API socket", listener.error());
  return HttpServer(std::make_unique<State>(std::move(*listener), std::move(options)));
}

Result<HttpServer> HttpServer::listen_tcp(const std::string& address, uint16_t port, ServerOptions options) {
  const std::string where = address + ":" + std::to_string(port);
  sockaddr_in bound{};
  bound.sin_family = AF_INET;
  bound.sin_port = htons(port);
  if (::inet_pton(AF_INET, address.c_str(), &bound.sin_addr) != 1)
    return make_error("'" + address + "' is not an IPv4 address");
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return errno_error("socket failed");
  const int on = 1;
  (void)::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&bound), sizeof bound) != 0)
    return errno_error("cannot listen on", where);
  if (::listen(fd.get(), options.backlog) != 0) return errno_error("listen failed on", where);
  return HttpServer(std::make_unique<State>(std::move(fd), where, std::move(options)));
}

HttpServer::HttpServer(std::unique_ptr<State> state) : state_(std::move(state)) {}
HttpServer::HttpServer(HttpServer&&) noexcept = default;
HttpServer::~HttpServer() = default;

size_t HttpServer::connection_count() const { return state_->connections.size(); }
const std::string& HttpServer::path() const { return state_->listener ? state_->listener->path() : state_->tcp_address; }

void HttpServer::add_poll_fds(std::vector<pollfd>& fds) const {
  fds.push_back({state_->listening_fd(), POLLIN, 0});
  for (const auto& [id, connection] : state_->connections) {
    // A deferred request is not polled at all (its close would make poll
    // return at once until the answer): a client that went away is found
    // when the answer is written, and a connection holds its place in
    // max_connections until then, which bounds what clients can leave waiting.
    if (connection.phase == Phase::kDeferred) continue;
    short events = connection.out.empty() ? 0 : POLLOUT;
    if (connection.phase != Phase::kReplying) events |= POLLIN;  // a request, or a streaming client going away
    fds.push_back({connection.fd.get(), events, 0});
  }
}

int HttpServer::poll_timeout_ms() const {
  std::optional<Clock::time_point> first;
  for (const auto& [id, connection] : state_->connections) {
    // Finished by send_chunk/end_stream: serve() closes it now.
    if (connection.stream_dropped || (connection.stream_ended && connection.out.empty())) return 0;
    if (connection.deadline != Clock::time_point::max())
      first = std::min(first.value_or(connection.deadline), connection.deadline);
  }
  if (!first) return -1;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*first - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left + 1, 0, state_->options.timeout.count() + 1));
}

void HttpServer::serve(const Handler& handler) {
  State& state = *state_;
  state.accept_waiting();
  std::vector<ConnectionId> closed_streams;
  for (auto it = state.connections.begin(); it != state.connections.end();) {
    if (state.advance(it->first, it->second, handler)) {
      ++it;
      continue;
    }
    if (it->second.phase == Phase::kStreaming) closed_streams.push_back(it->first);
    it = state.connections.erase(it);
  }
  // After the walk: the owner may send to (or end) other streams from here.
  if (state.options.on_stream_closed) {
    for (ConnectionId id : closed_streams) {
      try {
        state.options.on_stream_closed(id);
      } catch (...) {  // the owner's bug; the loop goes on serving the others
      }
    }
  }
}

void HttpServer::send_chunk(ConnectionId id, std::string_view data) {
  const auto it = state_->connections.find(id);
  if (it == state_->connections.end() || data.empty()) return;
  Connection& connection = it->second;
  if (connection.phase != Phase::kStreaming || connection.stream_ended || connection.stream_dropped) return;
  if (connection.out.empty()) connection.deadline = state_->deadline();
  connection.out += frame_chunk(data, connection.chunked);
  // A client that does not read its stream may not grow our memory.
  if (connection.out.size() > state_->options.max_stream_backlog) {
    connection.stream_dropped = true;
    connection.out.clear();
  }
}

void HttpServer::end_stream(ConnectionId id) {
  const auto it = state_->connections.find(id);
  if (it == state_->connections.end()) return;
  Connection& connection = it->second;
  if (connection.phase != Phase::kStreaming || connection.stream_ended || connection.stream_dropped) return;
  if (connection.out.empty()) connection.deadline = state_->deadline();
  connection.out += end_of_stream(connection.chunked);
  connection.stream_ended = true;
}

void HttpServer::respond(ConnectionId id, const Response& response) {
  const auto it = state_->connections.find(id);
  if (it == state_->connections.end() || it->second.phase != Phase::kDeferred) return;
  Connection& connection = it->second;
  connection.phase = Phase::kReplying;
  connection.deadline = state_->deadline();
  connection.close_after_reply = !connection.deferred_keep_alive;
  if (response.stream || response.deferred) {
    connection.out += write_response(
        Response{.status = 500, .body = error_body(state_->options, 500, "internal error: a deferred answer cannot wait again")},
        connection.deferred_keep_alive);
    return;
  }
  connection.out += write_response(response, connection.deferred_keep_alive, connection.deferred_head);
}

void HttpServer::State::accept_waiting() {
  for (;;) {
    UniqueFd client = listener ? listener->accept()
                               : UniqueFd(::accept4(tcp.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!client.valid()) return;  // EAGAIN: nobody else is waiting (or a transient error)
    if (connections.size() >= options.max_connections) {
      // Best effort, never waiting: the client reads why if it is listening.
      const std::string reply = error_reply(options, 503, "too many connections; try again");
      (void)!::send(client.get(), reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      continue;
    }
    Connection connection{.fd = std::move(client),
                          .reader = HttpRequestReader(ReaderLimits{options.max_header_bytes, options.max_body_bytes}),
                          .deadline = deadline()};
    // A peer that may not use the socket is heard out like any other (so it
    // reads why, not a reset connection) and answered with a 403.
    auto peer = listener ? control::check_peer(connection.fd.get(), options.allowed_uids) : Result<uid_t>(kTcpPeer);
    if (peer.ok()) {
      connection.peer_uid = *peer;
    } else {
      connection.refusal = peer.error().message;
    }
    connections.emplace(next_id++, std::move(connection));
  }
}

bool HttpServer::State::advance(ConnectionId id, Connection& connection, const Handler& handler) {
  if (connection.stream_dropped || Clock::now() >= connection.deadline) return false;
  for (;;) {
    if (!flush(connection)) return false;
    if (connection.phase == Phase::kStreaming) {
      if (!still_there(connection)) return false;
      return !(connection.stream_ended && connection.out.empty());
    }
    // Waiting for its answer; bytes it sent ahead (its next request, or the
    // end of a client that half-closed) stay in the socket until then.
    if (connection.phase == Phase::kDeferred) return true;
    if (!connection.out.empty()) return true;  // more when the client takes it
    if (connection.phase == Phase::kReplying) {
      if (connection.close_after_reply) return false;
      // Keep-alive: the next request, which has the timeout to arrive whole.
      connection.phase = Phase::kReading;
      connection.reader.reset();
      connection.continue_sent = false;
      connection.deadline = deadline();
    }
    ReadOutcome outcome;
    switch (read_request(connection, outcome)) {
      case Read::kWait: return true;
      case Read::kGone: return false;
      case Read::kFlush: continue;
      case Read::kGot: break;
    }
    answer(id, connection, std::move(outcome), handler);
  }
}

HttpServer::State::Read HttpServer::State::read_request(Connection& connection, ReadOutcome& outcome) {
  char buffer[kReadPiece];
  for (;;) {
    if (!connection.pending.empty()) {
      outcome = connection.reader.feed(connection.pending);
      connection.pending.erase(0, outcome.consumed);
      if (outcome.state != ReadOutcome::State::kNeedMore) return Read::kGot;
      if (connection.reader.expects_continue() && !connection.continue_sent) {
        // The client waits for this before it sends the body (RFC 7231 §5.1.1).
        connection.continue_sent = true;
        connection.out += kContinue;
        return Read::kFlush;
      }
    }
    const ssize_t count = ::recv(connection.fd.get(), buffer, sizeof buffer, MSG_DONTWAIT);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Read::kWait;
    // Closed (or failed) between requests or in the middle of one: nothing
    // to answer, the connection just goes.
    if (count <= 0) return Read::kGone;
    connection.pending.assign(buffer, static_cast<size_t>(count));
  }
}

void HttpServer::State::answer(ConnectionId id, Connection& connection, ReadOutcome&& outcome, const Handler& handler) {
  connection.deadline = deadline();  // to take the reply
  connection.phase = Phase::kReplying;
  if (outcome.state == ReadOutcome::State::kFailed) {
    connection.out += error_reply(options, outcome.status, outcome.message);
    connection.close_after_reply = true;
    return;
  }
  Request& request = outcome.request;
  if (!connection.refusal.empty()) {
    connection.out += error_reply(options, 403, connection.refusal);
    connection.close_after_reply = true;
    return;
  }
  request.peer_uid = connection.peer_uid;
  const Response response = call_handler(handler, request, id, options);
  if (response.deferred) {
    connection.phase = Phase::kDeferred;
    connection.deadline = Clock::time_point::max();
    connection.deferred_keep_alive = request.keep_alive;
    connection.deferred_head = request.method == "HEAD";
    return;
  }
  if (response.stream) {
    connection.phase = Phase::kStreaming;
    connection.chunked = request.version >= 11;
    connection.out += write_stream_header(response, connection.chunked);
    connection.out += frame_chunk(response.body, connection.chunked);
    connection.pending.clear();  // a stream is the connection's last reply
    return;
  }
  connection.close_after_reply = !request.keep_alive;
  connection.out += write_response(response, request.keep_alive, request.method == "HEAD");
}

// Writes what the client takes now; false when it has gone away.
bool HttpServer::State::flush(Connection& connection) {
  bool progressed = false;
  while (!connection.out.empty()) {
    const ssize_t sent =
        ::send(connection.fd.get(), connection.out.data(), connection.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (sent <= 0) return false;
    connection.out.erase(0, static_cast<size_t>(sent));
    progressed = true;
  }
  // A stream lives as long as the owner feeds it; only a client that stops
  // taking what is queued runs out of time.
  if (connection.phase == Phase::kStreaming) {
    if (connection.out.empty()) {
      connection.deadline = Clock::time_point::max();
    } else if (progressed) {
      connection.deadline = deadline();
    }
  }
  return true;
}

// A streaming client sends nothing more that matters; its close (or a
// failure) ends the stream.
bool HttpServer::State::still_there(Connection& connection) {
  char buffer[4096];
  for (;;) {
    const ssize_t count = ::recv(connection.fd.get(), buffer, sizeof buffer, MSG_DONTWAIT);
    if (count > 0) continue;
    if (count < 0 && errno == EINTR) continue;
    return count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
}

}  // namespace vmhive::http
