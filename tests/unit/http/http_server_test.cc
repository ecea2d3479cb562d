// The HTTP server on real Unix sockets with real client sockets: the socket
// file, keep-alive and pipelining, the limits, slow and vanishing clients,
// and streamed replies. The test thread is the server's poll loop; clients
// are non-blocking sockets it reads between rounds, so every wait is for a
// state, not for a time.
#include "http/http_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "file_contents.h"
#include "temp_dir.h"

namespace vmhive::http {
namespace {

using namespace std::chrono_literals;
using vmhive::testing::file_contents;
using vmhive::testing::TempDir;

// A client socket the test reads without blocking.
struct Client {
  explicit Client(const std::string& path) : fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    EXPECT_EQ(::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address), 0)
        << std::strerror(errno);
  }
  void send(const std::string& text) const {
    ASSERT_EQ(::send(fd.get(), text.data(), text.size(), MSG_NOSIGNAL), static_cast<ssize_t>(text.size()));
  }
  // Takes whatever has arrived; notes when the server has closed.
  void take() {
    char buffer[4096];
    for (;;) {
      const ssize_t count = ::recv(fd.get(), buffer, sizeof buffer, MSG_DONTWAIT);
      if (count > 0) {
        received.append(buffer, static_cast<size_t>(count));
        continue;
      }
      if (count == 0 || (errno != EAGAIN && errno != EINTR)) closed = true;
      return;
    }
  }
  size_t replies() const {
    size_t count = 0;
    for (size_t at = received.find("HTTP/1.1 "); at != std::string::npos; at = received.find("HTTP/1.1 ", at + 1))
      ++count;
    return count;
  }

  UniqueFd fd;
  std::string received;
  bool closed = false;
};

class HttpServerTest : public ::testing::Test {
 protected:
  Result<HttpServer> listen(ServerOptions options = {}) {
    options.on_stream_closed = [this](ConnectionId id) { closed_streams_.push_back(id); };
    return HttpServer::listen(path_, std::move(options));
  }
  // Serves `server` on this thread until `done` says stop (at most 30 s).
  template <class Done>
  bool serve_until(HttpServer& server, Done done) {
    const auto give_up = std::chrono::steady_clock::now() + 30s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > give_up) return false;
      serve_once(server);
    }
    return true;
  }
  void serve_once(HttpServer& server) {
    std::vector<pollfd> fds;
    server.add_poll_fds(fds);
    const int timeout = server.poll_timeout_ms();
    ::poll(fds.data(), fds.size(), timeout < 0 || timeout > 50 ? 50 : timeout);
    server.serve(handler_);
  }

  TempDir temp_;
  std::string path_ = temp_.file("api.sock");
  std::vector<Request> requests_;
  std::vector<ConnectionId> streams_;
  std::vector<ConnectionId> closed_streams_;
  std::vector<ConnectionId> deferred_;
  Handler handler_ = [this](const Request& request, ConnectionId id) {
    requests_.push_back(request);
    if (request.path == "/stream") {
      streams_.push_back(id);
      return Response{.content_type = "text/plain", .body = "first", .stream = true};
    }
    if (request.path == "/throw") throw std::runtime_error("handler bug");
    if (request.path == "/later") {
      deferred_.push_back(id);
      return Response{.deferred = true};
    }
    return Response{.body = "{\"path\":\"" + request.path + "\"}", .headers = {{"X-Served-By", "test"}}};
  };
};

TEST_F(HttpServerTest, TheSocketIsTheOwnersOnlyWhateverTheUmask) {
  const mode_t old = ::umask(0);
  auto server = listen();
  ::umask(old);
  ASSERT_TRUE(server.ok()) << server.error().message;
  struct stat info {};
  ASSERT_EQ(::lstat(path_.c_str(), &info), 0);
  EXPECT_TRUE(S_ISSOCK(info.st_mode));
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  EXPECT_EQ(server->path(), path_);
}

TEST_F(HttpServerTest, TheSocketIsChownedToItsConfiguredOwner) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file away";
  auto server = listen(ServerOptions{.socket_owner = std::pair<uid_t, gid_t>(65534, 65534)});
  ASSERT_TRUE(server.ok()) << server.error().message;
  struct stat info {};
  ASSERT_EQ(::lstat(path_.c_str(), &info), 0);
  EXPECT_EQ(info.st_uid, 65534u);
  EXPECT_EQ(info.st_gid, 65534u);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
}

TEST_F(HttpServerTest, AnswersAGet) {
  auto server = listen();
  ASSERT_TRUE(server.ok()) << server.error().message;
  Client client(path_);
  client.send("GET /vms/web-1?follow=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(serve_until(*server, [&] { return client.take(), client.closed; }));
  EXPECT_EQ(client.received.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << client.received;
  EXPECT_NE(client.received.find("Content-Type: application/json\r\n"), std::string::npos);
  EXPECT_NE(client.received.find("Content-Length: 21\r\n"), std::string::npos) << client.received;
  EXPECT_NE(client.received.find("X-Served-By: test\r\n"), std::string::npos);
  EXPECT_NE(client.received.find("Connection: close\r\n"), std::string::npos);
  EXPECT_NE(client.received.find("\r\n\r\n{\"path\":\"/vms/web-1\"}"), std::string::npos) << client.received;
  ASSERT_EQ(requests_.size(), 1u);
  EXPECT_EQ(requests_[0].query.at("follow"), "1");
  EXPECT_EQ(requests_[0].peer_uid, ::geteuid());
  EXPECT_EQ(server->connection_count(), 0u);
}

TEST_F(HttpServerTest, KeepAliveCarriesRequestsOneAfterAnother) {
  auto server = listen();
  ASSERT_TRUE(server.ok());
  Client client(path_);
  client.send("GET /one HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(serve_until(*server, [&] { return client.take(), client.received.ends_with("{\"path\":\"/one\"}"); }));
  EXPECT_EQ(client.received.find("Connection:"), std::string::npos) << "HTTP/1.1 keeps it open by default";
  EXPECT_EQ(server->connection_count(), 1u);
  client.send("PUT /two HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
  ASSERT_TRUE(serve_until(*server, [&] { return client.take(), client.received.ends_with("{\"path\":\"/two\"}"); }));
  EXPECT_FALSE(client.closed);
  ASSERT_EQ(requests_.size(), 2u);
  EXPECT_EQ(requests_[1].body, "abc");
  // "Connection: close" ends it after the reply.
  client.send("GET /three HTTP/1.1\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(serve_until(*server, [&] { return client.take(), client.closed; }));
  EXPECT_EQ(client.replies(), 3u);
  EXPECT_TRUE(client.received.ends_with("{\"path\":\"/three\"}"));
  EXPECT_EQ(server->connection_count(), 0u);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  auto server = listen();
  ASSERT_TRUE(server.ok());
  Client client(path_);
  client.send(
      "GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 1\r\n\r\nxGET /c HTTP/1.1\r\nConnection: "
      "close\r\n\r\n");
  ASSERT_TRUE(serve_until(*server, [&] { return client.take(), client.closed; }));
  EXPECT_EQ(client.replies(), 3u) << client.received;
  const size_t a = client.received.find("/a\"}"), b = client.received.find("/b\"}"), c = client.received.find("/c\"}");
  EXPECT_TRUE(a < b && b < c && c != std::string::npos) << client.received;
  ASSERT_EQ(requests_.size(), 3u);
  EXPECT_EQ(requests_[1].body, "x");
}

TEST_F(HttpServerTest, Http10ClosesAfterItsReply) {
  auto server = listen();
  ASSERT_TRUE(server.ok());
  Client client(path_);
  client.send("GET /old HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(serve_until(*server, [&] { return client.take(), client.closed; }));
  EXPECT_EQ(client.replies(), 1u);
  EXPECT_NE(client.received.find("Connection: close\r\n"), std::string::npos);
}

TEST_F(HttpServerTest, HeadGetsTheHeadersWithoutTheBody) {
  auto server = listen();
  ASSERT_TRUE(server.ok());
  Client client(path_);
  client.send("HEAD /vms HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(serve_until(*server, [&] { return client.take(), client.closed; }));
  const std::string head = client.received.substr(0, client.received.find("HTTP/1.1 ", 1));
  EXPECT_NE(head.find("Content-Length: 15\r\n"), std::string::npos) << head;
  EXPECT_TRUE(head.ends_with("\r\n\r\n")) << head;
  EXPECT_TRUE(client.received.ends_with("{\"path\":\"/after\"}"));
}

TEST_F(HttpServerTest, NeverReplacesWhatIsNotAStaleSocket) {
  std::ofstream(path_) << "precious";
  auto refused = listen();
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("not a socket"), std::string::npos) << refused.error().message;
  EXPECT_EQ(file_contents(path_), "precious");
  ASSERT_EQ(::unlink(path_.c_str()), 0);
  {
    auto live = listen();
    ASSERT_TRUE(live.ok());
    auto second = listen();
    ASSERT_FALSE(second.ok());
    EXPECT_NE(second.error().message.find("in use by another process"), std::string::npos);
  }
  EXPECT_NE(::access(path_.c_str(), F_OK), 0) << "the server removes its socket file";
}

TEST_F(HttpServerTest, AStaleSocketIsReplaced) {
  UniqueFd stale(::socket(AF_UNIX, SOCK_STREAM, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path_.c_str(), sizeof address.sun_path - 1);
  ASSERT_EQ(::bind(stale.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
  stale.reset();
  auto server = listen();
  ASSERT_TRUE(server.ok()) << server.error().message;
  Client client(path_);
  client.send("GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(serve_until(*server, [&] { return client.take(), client.closed; }));
  EXPECT_EQ(client.replies(), 1u);
}

TEST_F(HttpServerTest, MoreThanMaxConnectionsGet503) {
  auto server = listen(ServerOptions{.max_connections = 2});
  ASSERT_TRUE(server.ok());
  Client first(path_), second(path_);
  ASSERT_TRUE(serve_until(*server, [&] { return server->connection_count() == 2; }));
  Client third(path_);
  ASSERT_TRUE(serve_until(*server, [&] { return third.take(), third.closed; }));
  EXPECT_EQ(third.received.rfind("HTTP/1.1 503 ", 0), 0u) << third.received;
  EXPECT_NE(third.received.find("{\"error\":\"too many connections; try again\"}"), std::string::npos);
  EXPECT_EQ(server->connection_count(), 2u);
  // The first two are still served.
  first.send("GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(serve_until(*server, [&] { return first.take(), first.closed; }));
  EXPECT_EQ(first.received.rfind("HTTP/1.1 200 ", 0), 0u);
}

TEST_F(HttpServerTest, ASlowClientIsDroppedWithoutDelayingAnother) {
  // The slow one's deadline is far enough away that the fast one is
  // answered first even on a busy machine.
  auto server = listen(ServerOptions{.timeout = 1s});
  ASSERT_TRUE(server.ok());
  Client slow(path_);
  slow.send("GET /slow HTTP/1.1\r\nHost:");  // half a request, then nothing
  ASSERT_TRUE(serve_until(*server, [&] { return server->connection_count() == 1; }));
  Client fast(path_);
  fast.send("GET /fast HTTP/1.1\r\nConnection: close\r\n\r\n");
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(serve_until(*server, [&] { return fast.take(), fast.closed; }));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 900ms) << "answered at once, not after the slow one";
  EXPECT_EQ(fast.replies(), 1u);
  EXPECT_GE(server->poll_timeout_ms(), 0) << "the slow one's deadline bounds the poll";
  ASSERT_TRUE(serve_until(*server, [&] { return slow.take(), slow.closed; }));
  EXPECT_EQ(slow.received, "") << "dropped without a word";
  EXPECT_EQ(server->connection_count(), 0u);
  ASSERT_EQ(requests_.size(), 1u);
  EXPECT_EQ(requests_[0].path, "/fast");
}

TEST_F(HttpServerTest, AnIdleKeepAliveConnectionIsClosedAtItsDeadline) {
  auto server = listen(ServerOptions{.timeout = 200ms});
  ASSERT_TRUE(server.ok());
  Client client(path_);
  client.send("GET /once HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(serve_until(*server, [&] { return client.take(), client.closed; }));
  EXPECT_EQ(client.replies(), 1u);
  EXPECT_EQ(server->connection_count(), 0u);
}

TEST_F(HttpServerTest, AClientVanishingMidRequestLeavesTheServerServing) {
  auto server = listen();
  ASSERT_TRUE(server.ok());
  {
    Client gone(path_);
    gone.send("PUT /x HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly part of it");
    ASSERT_TRUE(serve_until(*server, [&] { return server->connection_count() == 1; }));
  }
  ASSERT_TRUE(serve_until(*server, [&] { return server->connection_count() == 0; }));
  {
    // One that sends a request and goes before its reply is written.
    Client impatient(path_);
    impatient.send("GET /x HTTP/1.1\r\n\r\n");
  }
  ASSERT_TRUE(serve_until(*server, [&] { return server->connection_count() == 0 && requests_.size() == 1; }));
  Client next(path_);
  next.send("GET /next HTTP/1.1\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(serve_until(*server, [&] { return next.take(), next.closed; }));
  EXPECT_TRUE(next.received.ends_with("{\"path\":\"/next\"}"));
}

TEST_F(HttpServerTest, WhatIsNotHttpGetsAnErrorAndTheClose) {
  ServerOptions options{.max_header_bytes = 512, .max_body_bytes = 16};
  options.error_body = [](int status, std::string_view message) {
    return "{\"fault_message\":\"" + std::to_string(status) + " " + std::string(message) + "\"}";
  };
  auto server = listen(std::move(options));
  ASSERT_TRUE(server.ok());
  const std::vector<std::pair<std::string, std::string>> cases{
      {"NOT HTTP AT ALL\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
      {"PUT / HTTP/1.1\r\nContent-Length: 17\r\n\r\n", "HTTP/1.1 413 Payload Too Large\r\n"},
      {"GET / HTTP/1.1\r\nX: " + std::string(600, 'a') + "\r\n\r\n",
       "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
      {"PUT / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "HTTP/1.1 501 Not Implemented\r\n"},
  };
  for (const auto& [request, status_line] : cases) {
    Client client(path_);
    client.send(request);
    ASSERT_TRUE(serve_until(*server, [&] { return client.take(), client.closed; }));
    EXPECT_EQ(client.received.rfind(status_line, 0), 0u) << client.received;
    EXPECT_NE(client.received.find("{\"fault_message\":\"" + status_line.substr(9, 3) + " "), std::string::npos)
        << client.received;
    EXPECT_NE(client.received.find("Connection: close\r\n"), std::string::npos);
  }
  EXPECT_TRUE(requests_.empty());
}

TEST_F(HttpServerTest, AHandlerThatThrowsGets500AndTheLoopGoesOn) {
  auto server = listen();
  ASSERT_TRUE(server.ok());
  Client client(path_);
  client.send("GET /throw HTTP/1.1\r\n\r\nGET /fine HTTP/1.1\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(serve_until(*server, [&] { return client.take(), client.closed; }));
  EXPECT_EQ(client.received.rfind("HTTP/1.1 500 ", 0), 0u) << client.received;
  EXPECT_NE(client.received.find("handler bug"), std::string::npos);
  EXPECT_TRUE(client.received.ends_with("{\"path\":\"/fine\"}"));
}

TEST_F(HttpServerTest, AStreamSendsItsChunksThenTheEnd) {
  auto server = listen();
  ASSERT_TRUE(server.ok());
  Client client(path_);
  client.send("GET /stream HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(serve_until(*server, [&] { return client.take(), client.received.ends_with("5\r\nfirst\r\n"); }));
  ASSERT_EQ(streams_.size(), 1u);
  EXPECT_NE(client.received.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << client.received;
  EXPECT_NE(client.received.find("Content-Type: text/plain\r\n"), std::string::npos);
  EXPECT_EQ(server->poll_timeout_ms(), -1) << "an idle stream has no deadline";
  server->send_chunk(streams_[0], "second line\n");
  server->send_chunk(streams_[0], "");
  ASSERT_TRUE(serve_until(*server, [&] { return client.take(), client.received.ends_with("c\r\nsecond line\n\r\n"); }));
  EXPECT_TRUE(closed_streams_.empty());
  server->end_stream(streams_[0]);
  server->send_chunk(streams_[0], "after the end: ignored");
  ASSERT_TRUE(serve_until(*server, [&] { return client.take(), client.closed; }));
  EXPECT_TRUE(client.received.ends_with("5\r\nfirst\r\nc\r\nsecond line\n\r\n0\r\n\r\n")) << client.received;
  EXPECT_EQ(closed_streams_, streams_);
  server->send_chunk(streams_[0], "to a closed stream: ignored");
  server->end_stream(streams_[0]);
  serve_once(*server);
  EXPECT_EQ(closed_streams_.size(), 1u);
}

TEST_F(HttpServerTest, ADeferredAnswerComesWhenTheOwnerHasItAndOthersAreServedMeanwhile) {
  auto server = listen(ServerOptions{.timeout = 200ms});
  ASSERT_TRUE(server.ok());
  Client waiting(path_);
  // Its next request is pipelined behind the deferred one.
  waiting.send("POST /later HTTP/1.1\r\nContent-Length: 0\r\n\r\nGET /next HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(serve_until(*server, [&] { return deferred_.size() == 1; }));
  EXPECT_EQ(server->poll_timeout_ms(), -1) << "a deferred request has no deadline of its own";
  Client other(path_);
  other.send("GET /meanwhile HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(serve_until(*server, [&] { return other.take(), other.replies() == 1; }));
  // Past the server's timeout, still waiting and still there.
  const auto until = std::chrono::steady_clock::now() + 300ms;
  while (std::chrono::steady_clock::now() < until) serve_once(*server);
  waiting.take();
  EXPECT_EQ(waiting.replies(), 0u);
  EXPECT_FALSE(waiting.closed);
  server->respond(deferred_[0], Response{.status = 201, .body = "{\"done\":true}"});
  server->respond(deferred_[0], Response{.status = 500, .body = "{}"});  // once only: ignored
  ASSERT_TRUE(serve_until(*server, [&] { return waiting.take(), waiting.replies() == 2; }));
  EXPECT_EQ(waiting.received.find("HTTP/1.1 201"), 0u) << waiting.received;
  EXPECT_NE(waiting.received.find("{\"done\":true}"), std::string::npos);
  EXPECT_NE(waiting.received.find("{\"path\":\"/next\"}"), std::string::npos) << "then the pipelined one";
  EXPECT_EQ(waiting.received.find("HTTP/1.1 500"), std::string::npos);
}

TEST_F(HttpServerTest, ADeferredRequestWhoseClientWentAwayIsDroppedAtItsAnswerWithoutSpinning) {
  auto server = listen();
  ASSERT_TRUE(server.ok());
  {
    Client client(path_);
    // Pipelined bytes behind it, then a close: nothing for poll to report again and again.
    client.send("GET /later HTTP/1.1\r\n\r\nGET /next HTTP/1.1\r\n");
    ASSERT_TRUE(serve_until(*server, [&] { return deferred_.size() == 1; }));
  }
  std::vector<pollfd> fds;
  server->add_poll_fds(fds);
  EXPECT_EQ(::poll(fds.data(), fds.size(), 100), 0) << "a closed deferred connection does not wake the loop";
  EXPECT_EQ(server->connection_count(), 1u);
  server->respond(deferred_[0], Response{.body = "{}"});
  ASSERT_TRUE(serve_until(*server, [&] { return server->connection_count() == 0; }));
  server->respond(deferred_[0], Response{.body = "{}"});  // gone: ignored
  serve_once(*server);
  EXPECT_EQ(server->connection_count(), 0u);
}

TEST_F(HttpServerTest, AHalfClosedClientStillGetsItsDeferredAnswer) {
  auto server = listen();
  ASSERT_TRUE(server.ok());
  Client client(path_);
  client.send("GET /later HTTP/1.1\r\n\r\n");
  ASSERT_EQ(::shutdown(client.fd.get(), SHUT_WR), 0);
  ASSERT_TRUE(serve_until(*server, [&] { return deferred_.size() == 1; }));
  serve_once(*server);
  server->respond(deferred_[0], Response{.status = 202, .body = "{}"});
  ASSERT_TRUE(serve_until(*server, [&] { return client.take(), client.closed; }));
  EXPECT_EQ(client.received.rfind("HTTP/1.1 202", 0), 0u) << client.received;
}

TEST_F(HttpServerTest, AStreamWhoseClientGoesAwayIsClosed) {
  auto server = listen();
  ASSERT_TRUE(server.ok());
  {
    Client client(path_);
    client.send("GET /stream HTTP/1.1\r\n\r\n");
    ASSERT_TRUE(serve_until(*server, [&] { return streams_.size() == 1; }));
  }
  ASSERT_TRUE(serve_until(*server, [&] { return !closed_streams_.empty(); }));
  EXPECT_EQ(closed_streams_, streams_);
  EXPECT_EQ(server->connection_count(), 0u);
}

TEST_F(HttpServerTest, ATooSlowStreamIsDropped) {
  auto server = listen(ServerOptions{.max_stream_backlog = 64 * 1024});
  ASSERT_TRUE(server.ok());
  Client reader(path_);  // asks for a stream and never reads it
  reader.send("GET /stream HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(serve_until(*server, [&] { return streams_.size() == 1; }));
  Client other(path_);
  const std::string piece(16 * 1024, 'x');
  // The socket's buffers fill, then the backlog; then the stream goes.
  ASSERT_TRUE(serve_until(*server, [&] {
    server->send_chunk(streams_[0], piece);
    return !closed_streams_.empty();
  }));
  EXPECT_EQ(closed_streams_, streams_);
  EXPECT_EQ(server->connection_count(), 1u) << "the other client stays";
  other.send("GET /other HTTP/1.1\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(serve_until(*server, [&] { return other.take(), other.closed; }));
  EXPECT_EQ(other.replies(), 1u);
  EXPECT_EQ(closed_streams_.size(), 1u) << "told once";
}

TEST_F(HttpServerTest, AnotherUserIsRefusedUnlessAllowed) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to connect as another user";
  ASSERT_EQ(::chmod(temp_.path().c_str(), 0755), 0);
  for (const bool allowed : {false, true}) {
    ServerOptions options;
    if (allowed) options.allowed_uids = {65534};
    auto server = listen(std::move(options));
    ASSERT_TRUE(server.ok());
    ASSERT_EQ(::chmod(path_.c_str(), 0666), 0) << "even with the file open to all, the peer check decides";
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    const pid_t child = ::fork();
    if (child == 0) {
      if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) ::_exit(2);
      Client client(path_);
      client.send("GET /secret HTTP/1.1\r\nConnection: close\r\n\r\n");
      while (!client.closed) {
        pollfd ready{client.fd.get(), POLLIN, 0};
        if (::poll(&ready, 1, 30000) <= 0) ::_exit(3);
        client.take();
      }
      (void)!::write(pipe_fds[1], client.received.data(), client.received.size());
      ::_exit(0);
    }
    ::close(pipe_fds[1]);
    int status = 0;
    ASSERT_TRUE(serve_until(*server, [&] { return ::waitpid(child, &status, WNOHANG) == child; }));
    std::string reply(4096, '\0');
    reply.resize(static_cast<size_t>(std::max<ssize_t>(0, ::read(pipe_fds[0], reply.data(), reply.size()))));
    ::close(pipe_fds[0]);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (allowed) {
      EXPECT_EQ(reply.rfind("HTTP/1.1 200 ", 0), 0u) << reply;
      ASSERT_EQ(requests_.size(), 1u);
      EXPECT_EQ(requests_[0].peer_uid, 65534u);
    } else {
      EXPECT_EQ(reply.rfind("HTTP/1.1 403 ", 0), 0u) << reply;
      EXPECT_NE(reply.find("permission denied: uid 65534"), std::string::npos) << reply;
      EXPECT_TRUE(requests_.empty());
    }
  }
}

// curl as the client: keep-alive across URLs, a body after "100 Continue",
// and a chunked stream it decodes.
TEST_F(HttpServerTest, CurlTalksToIt) {
  const char* curl = "/usr/bin/curl";
  if (::access(curl, X_OK) != 0) GTEST_SKIP() << "curl is not installed; apt-get install curl to run this test";
  auto server = listen();
  ASSERT_TRUE(server.ok());
  // clang-format off
  const std::vector<std::string> args{
      "curl", "-sS", "--unix-socket", path_, "--expect100-timeout", "20", "-X", "PUT", "-H", "Expect: 100-continue",
      "--data-binary", "{\"vcpus\":2}", "-w", " %{http_code} %{num_connects}\n", "http://localhost/vms/a?name=web%201",
      "--next", "-sS", "--unix-socket", path_, "-w", " %{http_code} %{num_connects}\n", "http://localhost/vms/b",
      "--next", "-sS", "--unix-socket", path_, "-w", " %{http_code}\n", "http://localhost/stream"};
  // clang-format on
  std::vector<char*> argv;
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  const auto start = std::chrono::steady_clock::now();
  const pid_t child = ::fork();
  if (child == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::execv(curl, argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  UniqueFd output(out[0]);
  int status = 0;
  bool ended = false;
  ASSERT_TRUE(serve_until(*server, [&] {
    if (!streams_.empty() && !ended) {
      server->send_chunk(streams_[0], " second");
      server->end_stream(streams_[0]);
      ended = true;
    }
    return ::waitpid(child, &status, WNOHANG) == child;
  }));
  std::string printed(4096, '\0');
  printed.resize(static_cast<size_t>(std::max<ssize_t>(0, ::read(output.get(), printed.data(), printed.size()))));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << printed;
  EXPECT_EQ(printed, "{\"path\":\"/vms/a\"} 200 1\n{\"path\":\"/vms/b\"} 200 0\nfirst second 200\n");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 15s) << "curl got its 100 Continue rather than waiting 20 s";
  ASSERT_EQ(requests_.size(), 3u);
  EXPECT_EQ(requests_[0].body, "{\"vcpus\":2}");
  EXPECT_EQ(requests_[0].query.at("name"), "web 1");
  EXPECT_EQ(closed_streams_, streams_);
}

}  // namespace
}  // namespace vmhive::http
