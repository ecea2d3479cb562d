// The control socket's server side, on real Unix sockets: who may connect,
// what the socket file looks like, what it never replaces, and that silent,
// slow or greedy clients cannot hold up anyone else.
#include "control/control_server.h"

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

namespace vmhive::control {
namespace {

using namespace std::chrono_literals;
using vmhive::testing::file_contents;
using vmhive::testing::TempDir;

UniqueFd connect_to(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address), 0) << std::strerror(errno);
  return fd;
}

void send_text(int fd, const std::string& text) {
  ASSERT_EQ(::send(fd, text.data(), text.size(), MSG_NOSIGNAL), static_cast<ssize_t>(text.size()));
}

// What the server wrote before it closed the connection.
std::string read_until_closed(int fd) {
  std::string text;
  char buffer[512];
  for (;;) {
    pollfd ready{fd, POLLIN, 0};
    if (::poll(&ready, 1, 30000) <= 0) return text + "(no end within 30 s)";
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got <= 0) return text;
    text.append(buffer, static_cast<size_t>(got));
  }
}

class ControlServerTest : public ::testing::Test {
 protected:
  // Serves `server` on this thread until `done` says stop (at most 30 s).
  template <class Done>
  void serve_until(ControlServer& server, Done done) {
    const auto give_up = std::chrono::steady_clock::now() + 30s;
    while (!done() && std::chrono::steady_clock::now() < give_up) serve_once(server, 50);
  }
  // One round: waits up to `wait_ms` for something to happen, then serves it.
  void serve_once(ControlServer& server, int wait_ms) {
    std::vector<pollfd> fds;
    server.add_poll_fds(fds);
    ::poll(fds.data(), fds.size(), wait_ms);
    server.serve(echo_);
  }

  TempDir temp_;
  std::string path_ = temp_.file("control.sock");
  ControlServer::Handler echo_ = [this](std::string_view request) {
    ++handled_;
    return "{\"ok\":true,\"echo\":\"" + std::string(request) + "\"}\n";
  };
  int handled_ = 0;
};

TEST_F(ControlServerTest, TheSocketIsTheOwnersOnlyWhateverTheUmask) {
  const mode_t old = ::umask(0);
  auto server = ControlServer::listen(path_);
  ::umask(old);
  ASSERT_TRUE(server.ok()) << server.error().message;
  struct stat info {};
  ASSERT_EQ(::lstat(path_.c_str(), &info), 0);
  EXPECT_TRUE(S_ISSOCK(info.st_mode));
  EXPECT_EQ(info.st_mode & 0777, 0600u);
}

TEST_F(ControlServerTest, AnswersOneRequestPerConnection) {
  auto server = ControlServer::listen(path_);
  ASSERT_TRUE(server.ok()) << server.error().message;
  UniqueFd client = connect_to(path_);
  send_text(client.get(), "status\nignored\n");
  std::string reply;
  serve_until(*server, [&] { return handled_ == 1 && server->connection_count() == 0; });
  EXPECT_EQ(read_until_closed(client.get()), "{\"ok\":true,\"echo\":\"status\"}\n");
  EXPECT_EQ(handled_, 1);
}

TEST_F(ControlServerTest, NeverReplacesWhatIsNotAStaleSocket) {
  std::ofstream(path_) << "precious";
  auto refused = ControlServer::listen(path_);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("not a socket"), std::string::npos) << refused.error().message;
  EXPECT_EQ(file_contents(path_), "precious");

  ASSERT_EQ(::unlink(path_.c_str()), 0);
  ASSERT_EQ(::symlink(temp_.file("elsewhere").c_str(), path_.c_str()), 0);
  EXPECT_FALSE(ControlServer::listen(path_).ok()) << "a symlink is not replaced either";
  ASSERT_EQ(::unlink(path_.c_str()), 0);

  {
    auto live = ControlServer::listen(path_);
    ASSERT_TRUE(live.ok());
    auto second = ControlServer::listen(path_);
    ASSERT_FALSE(second.ok());
    EXPECT_NE(second.error().message.find("in use by another process"), std::string::npos);
  }
  // A socket file nobody listens on any more is stale: it is replaced.
  UniqueFd stale(::socket(AF_UNIX, SOCK_STREAM, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path_.c_str(), sizeof address.sun_path - 1);
  ASSERT_EQ(::bind(stale.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
  stale.reset();
  EXPECT_TRUE(ControlServer::listen(path_).ok());
}

TEST_F(ControlServerTest, SilentClientsHoldUpNobody) {
  auto server = ControlServer::listen(path_);
  ASSERT_TRUE(server.ok());
  std::vector<UniqueFd> silent;
  for (int i = 0; i < 5; ++i) silent.push_back(connect_to(path_));
  send_text(silent[2].get(), "{\"op\":");  // half a request, then nothing
  UniqueFd client = connect_to(path_);
  send_text(client.get(), "status\n");
  const auto start = std::chrono::steady_clock::now();
  serve_until(*server, [&] { return handled_ == 1; });
  EXPECT_EQ(handled_, 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s) << "answered at once, not after the silent ones";
  EXPECT_EQ(read_until_closed(client.get()), "{\"ok\":true,\"echo\":\"status\"}\n");
}

TEST_F(ControlServerTest, ASilentClientIsDroppedAtItsDeadline) {
  auto server = ControlServer::listen(path_, ServerLimits{.timeout = 200ms});
  ASSERT_TRUE(server.ok());
  UniqueFd silent = connect_to(path_);
  serve_until(*server, [&] { return server->connection_count() == 1; });
  ASSERT_EQ(server->connection_count(), 1u);
  EXPECT_GE(server->poll_timeout_ms(), 0);
  serve_until(*server, [&] { return server->connection_count() == 0; });
  EXPECT_EQ(server->connection_count(), 0u);
  EXPECT_EQ(read_until_closed(silent.get()), "") << "closed without a word";
  EXPECT_EQ(handled_, 0);
}

TEST_F(ControlServerTest, TooManyConnectionsAndTooLongRequestsAreTold) {
  auto server = ControlServer::listen(path_, ServerLimits{.max_connections = 2, .max_request_bytes = 16});
  ASSERT_TRUE(server.ok());
  UniqueFd first = connect_to(path_), second = connect_to(path_);
  serve_until(*server, [&] { return server->connection_count() == 2; });
  UniqueFd third = connect_to(path_);
  serve_once(*server, 5000);  // the third connection is waiting: poll returns at once
  EXPECT_NE(read_until_closed(third.get()).find("too many connections"), std::string::npos);
  send_text(first.get(), std::string(17, 'x'));
  serve_until(*server, [&] { return server->connection_count() == 1; });
  EXPECT_NE(read_until_closed(first.get()).find("request longer than 16 bytes"), std::string::npos);
  EXPECT_EQ(handled_, 0);
}

TEST_F(ControlServerTest, AnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to connect as another user";
  auto server = ControlServer::listen(path_);
  ASSERT_TRUE(server.ok());
  ASSERT_EQ(::chmod(path_.c_str(), 0666), 0) << "even with the file open to all, the peer check refuses";
  ASSERT_EQ(::chmod(temp_.path().c_str(), 0755), 0);
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) ::_exit(2);
    UniqueFd fd = connect_to(path_);
    send_text(fd.get(), "status\n");
    const std::string reply = read_until_closed(fd.get());
    (void)!::write(pipe_fds[1], reply.data(), reply.size());
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  int status = 0;
  serve_until(*server, [&] { return ::waitpid(child, &status, WNOHANG) == child; });
  const std::string reply = read_until_closed(pipe_fds[0]);
  ::close(pipe_fds[0]);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_NE(reply.find("permission denied: uid 65534"), std::string::npos) << reply;
  EXPECT_EQ(handled_, 0);
}

}  // namespace
}  // namespace vmhive::control
