// Both sides of the hold protocol over a real socket pair: the normal
// ready / go / running exchange, a server that lets a clone go (before or
// after "ready"), wrong words, torn words, and the server's deadlines.
#include "clones/hold_protocol.h"

#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <string>

#include <gtest/gtest.h>

#include "common/fd_io.h"
#include "common/unique_fd.h"

namespace vmhive::clones {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct HoldPair {
  UniqueFd server;
  UniqueFd clone;
};

HoldPair make_pair() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  return HoldPair{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

void expect_error_with(const Result<void>& result, const std::string& text) {
  ASSERT_FALSE(result.ok()) << "expected an error with '" << text << "'";
  EXPECT_NE(result.error().message.find(text), std::string::npos) << result.error().message;
}

TEST(HoldProtocol, ReadyGoRunning) {
  HoldPair pair = make_pair();
  auto clone = std::async(std::launch::async, [&] { return hold_until_go(pair.clone.get()); });
  ASSERT_TRUE(wait_for_ready(pair.server.get(), Clock::now() + 10s).ok());
  ASSERT_TRUE(send_go(pair.server.get()).ok());
  auto outcome = clone.get();
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(*outcome, HoldOutcome::kGo);
  ASSERT_TRUE(announce_running(pair.clone.get()).ok());
  pair.clone.reset();
  auto running = wait_for_running(pair.server.get(), Clock::now() + 10s);
  EXPECT_TRUE(running.ok()) << running.error().message;
}

TEST(HoldProtocol, ServerClosingAfterReadyLetsTheCloneGo) {
  HoldPair pair = make_pair();
  auto clone = std::async(std::launch::async, [&] { return hold_until_go(pair.clone.get()); });
  ASSERT_TRUE(wait_for_ready(pair.server.get(), Clock::now() + 10s).ok());
  pair.server.reset();
  auto outcome = clone.get();
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(*outcome, HoldOutcome::kLetGo);
}

TEST(HoldProtocol, ServerGoneBeforeReadyLetsTheCloneGo) {
  HoldPair pair = make_pair();
  pair.server.reset();  // "ready" cannot even be written (EPIPE)
  auto outcome = hold_until_go(pair.clone.get());
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(*outcome, HoldOutcome::kLetGo);
}

TEST(HoldProtocol, CloneRefusesAnotherWord) {
  HoldPair pair = make_pair();
  ASSERT_TRUE(write_fully(pair.server.get(), "stop\n").ok());
  auto outcome = hold_until_go(pair.clone.get());
  ASSERT_FALSE(outcome.ok());
  EXPECT_NE(outcome.error().message.find("\"stop\""), std::string::npos) << outcome.error().message;
}

TEST(HoldProtocol, CloneRefusesATornWordAndABrokenDescriptor) {
  HoldPair pair = make_pair();
  ASSERT_TRUE(write_fully(pair.server.get(), "g").ok());
  pair.server.reset();
  auto torn = hold_until_go(pair.clone.get());
  ASSERT_FALSE(torn.ok());
  EXPECT_NE(torn.error().message.find("middle of a word"), std::string::npos) << torn.error().message;

  const int closed = pair.clone.get();
  pair.clone.reset();
  auto broken = hold_until_go(closed);
  ASSERT_FALSE(broken.ok()) << "a closed descriptor is not a server letting go";
  EXPECT_NE(broken.error().message.find("Bad file descriptor"), std::string::npos) << broken.error().message;
}

TEST(HoldProtocol, ServerDeadline) {
  HoldPair pair = make_pair();
  const auto start = Clock::now();
  expect_error_with(wait_for_ready(pair.server.get(), start + 100ms), "deadline");
  EXPECT_GE(Clock::now() - start, 100ms);
  EXPECT_LT(Clock::now() - start, 5s);
  // A clone that said "ready" but never "running" after "go".
  ASSERT_TRUE(write_fully(pair.clone.get(), "ready\n").ok());
  ASSERT_TRUE(wait_for_ready(pair.server.get(), Clock::now() + 10s).ok());
  ASSERT_TRUE(send_go(pair.server.get()).ok());
  expect_error_with(wait_for_running(pair.server.get(), Clock::now() + 50ms), "\"running\"");
}

TEST(HoldProtocol, ServerRefusesWrongWordsAndEndOfFile) {
  {
    HoldPair pair = make_pair();
    ASSERT_TRUE(write_fully(pair.clone.get(), "running\n").ok());
    expect_error_with(wait_for_ready(pair.server.get(), Clock::now() + 10s), "said \"running\" instead of \"ready\"");
  }
  {
    HoldPair pair = make_pair();
    ASSERT_TRUE(write_fully(pair.clone.get(), "ready\nrunning\n").ok());
    expect_error_with(wait_for_ready(pair.server.get(), Clock::now() + 10s), "more than one word");
  }
  {
    HoldPair pair = make_pair();
    ASSERT_TRUE(write_fully(pair.clone.get(), std::string(40, 'x')).ok());
    expect_error_with(wait_for_ready(pair.server.get(), Clock::now() + 10s), "too long");
  }
  {
    HoldPair pair = make_pair();
    pair.clone.reset();  // the restore failed and the clone exited
    expect_error_with(wait_for_ready(pair.server.get(), Clock::now() + 10s), "closed its hold socket before \"ready\"");
  }
}

}  // namespace
}  // namespace vmhive::clones
