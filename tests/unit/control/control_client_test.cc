// send_to_each: one request to many control sockets, one deadline for all.
#include "control/control_client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/unique_fd.h"
#include "temp_dir.h"

namespace vmhive::control {
namespace {

using namespace std::chrono_literals;
using vmhive::testing::TempDir;

UniqueFd listen_at(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address), 0) << std::strerror(errno);
  EXPECT_EQ(::listen(fd.get(), 8), 0);
  return fd;
}

// Accepts one connection, reads its request line and answers with `reply`.
std::jthread answer_once(int listener, std::string reply) {
  return std::jthread([listener, reply = std::move(reply)] {
    UniqueFd connection(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
    char buffer[256];
    std::string request;
    while (request.find('\n') == std::string::npos) {
      const ssize_t got = ::read(connection.get(), buffer, sizeof buffer);
      if (got <= 0) return;
      request.append(buffer, static_cast<size_t>(got));
    }
    (void)!::write(connection.get(), reply.data(), reply.size());
  });
}

TEST(SendToEach, AnswersComeBackInOrderAndASilentVmCostsOnlyTheDeadline) {
  TempDir temp;
  const std::string first = temp.file("first.sock"), silent = temp.file("silent.sock"),
                    second = temp.file("second.sock"), missing = temp.file("missing.sock");
  UniqueFd first_listener = listen_at(first), silent_listener = listen_at(silent),
           second_listener = listen_at(second);
  std::jthread one = answer_once(first_listener.get(), "{\"ok\":true,\"n\":1}\n");
  std::jthread two = answer_once(second_listener.get(), "{\"ok\":true,\"n\":2}");  // no newline: the close ends it
  const auto begin = std::chrono::steady_clock::now();
  const auto replies = send_to_each({first, silent, missing, second}, R"({"op":"stats"})", 400ms);
  const auto took = std::chrono::steady_clock::now() - begin;
  ASSERT_EQ(replies.size(), 4u);
  ASSERT_TRUE(replies[0].ok()) << replies[0].error().message;
  EXPECT_EQ(*replies[0], R"({"ok":true,"n":1})");
  ASSERT_FALSE(replies[1].ok());
  EXPECT_NE(replies[1].error().message.find("timed out"), std::string::npos) << replies[1].error().message;
  ASSERT_FALSE(replies[2].ok());
  EXPECT_NE(replies[2].error().message.find("missing.sock"), std::string::npos) << replies[2].error().message;
  ASSERT_TRUE(replies[3].ok()) << replies[3].error().message;
  EXPECT_EQ(*replies[3], R"({"ok":true,"n":2})");
  EXPECT_GE(took, 350ms);
  EXPECT_LT(took, 5s) << "one deadline for all, not one each";
}

TEST(SendToEach, NoSocketsNoWait) {
  const auto begin = std::chrono::steady_clock::now();
  EXPECT_TRUE(send_to_each({}, "{}", 10s).empty());
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1s);
}

}  // namespace
}  // namespace vmhive::control
