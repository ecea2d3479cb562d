// The device thread's loop: watched eventfds call back on the thread, and
// pause()/resume() hold every callback (watches and pollers) between them.
#include "vmm/device_loop.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "common/unique_fd.h"

namespace vmhive {
namespace {

using namespace std::chrono_literals;

// Waits up to 5 s for `condition`.
bool eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

void ring(const UniqueFd& fd) {
  const uint64_t one = 1;
  ASSERT_EQ(::write(fd.get(), &one, sizeof one), static_cast<ssize_t>(sizeof one));
}

class DeviceLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(doorbell_.valid());
    auto loop = DeviceLoop::create();
    ASSERT_TRUE(loop.ok()) << loop.error().message;
    loop_ = std::move(*loop);
    ASSERT_TRUE(loop_->watch_eventfd(doorbell_.get(), [this] { ++calls_; }).ok());
  }

  UniqueFd doorbell_{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
  std::atomic<int> calls_{0};
  std::unique_ptr<DeviceLoop> loop_;
};

TEST_F(DeviceLoopTest, CallsBackForAWatchedEventfd) {
  ASSERT_TRUE(loop_->start().ok());
  ring(doorbell_);
  EXPECT_TRUE(eventually([&] { return calls_ == 1; }));
  ring(doorbell_);
  EXPECT_TRUE(eventually([&] { return calls_ == 2; }));
}

TEST_F(DeviceLoopTest, APausedLoopHoldsEventsUntilResumed) {
  ASSERT_TRUE(loop_->start().ok());
  ring(doorbell_);
  ASSERT_TRUE(eventually([&] { return calls_ == 1; }));

  auto paused = loop_->pause();
  ASSERT_TRUE(paused.ok()) << paused.error().message;
  ring(doorbell_);
  ring(doorbell_);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(calls_, 1) << "a callback ran while paused";

  loop_->resume();
  EXPECT_TRUE(eventually([&] { return calls_ == 2; })) << "the held doorbell (rung twice: one eventfd read)";
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(calls_, 2);

  // And it pauses again.
  ASSERT_TRUE(loop_->pause().ok());
  ring(doorbell_);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(calls_, 2);
  loop_->resume();
  EXPECT_TRUE(eventually([&] { return calls_ == 3; }));
}

TEST_F(DeviceLoopTest, APauseHoldsPollersToo) {
  std::atomic<int> polls{0};
  loop_->set_poll_window(std::chrono::microseconds(10'000'000));
  ASSERT_TRUE(loop_->add_poller([&] { ++polls; return true; }, [] {}).ok());  // always busy
  ASSERT_TRUE(loop_->start().ok());
  ring(doorbell_);
  ASSERT_TRUE(eventually([&] { return polls > 100; })) << "polling after the doorbell";

  ASSERT_TRUE(loop_->pause().ok());
  const int held = polls;
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(polls, held) << "a poller ran while paused";
  loop_->resume();
  EXPECT_TRUE(eventually([&] { return polls > held; }));
}

TEST_F(DeviceLoopTest, PauseBeforeStartReturnsAtOnce) {
  const auto before = std::chrono::steady_clock::now();
  auto paused = loop_->pause();
  EXPECT_TRUE(paused.ok()) << paused.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - before, 1s) << "waited for a thread that does not exist";
  loop_->resume();
  ASSERT_TRUE(loop_->start().ok());
  ring(doorbell_);
  EXPECT_TRUE(eventually([&] { return calls_ == 1; }));
}

TEST_F(DeviceLoopTest, ALoopDestroyedWhilePausedStops) {
  ASSERT_TRUE(loop_->start().ok());
  ASSERT_TRUE(loop_->pause().ok());
  const auto before = std::chrono::steady_clock::now();
  loop_.reset();  // joins the thread: it must let go of the pause to stop
  EXPECT_LT(std::chrono::steady_clock::now() - before, 1s);
  EXPECT_EQ(calls_, 0);
}

// A restored virtio-net device's tap may already hold frames when its
// edge-triggered watch is added, or get some before the loop starts
// (PciPlatform::restore): the watch reports both once the loop runs, and
// again for data that comes later.
TEST_F(DeviceLoopTest, AnEdgeWatchReportsDataThatCameBeforeItOrBeforeTheStart) {
  struct Pipe {
    UniqueFd reader, writer;
  };
  auto make_pipe = [] {
    int ends[2] = {-1, -1};
    EXPECT_EQ(::pipe2(ends, O_CLOEXEC | O_NONBLOCK), 0);
    return Pipe{UniqueFd(ends[0]), UniqueFd(ends[1])};
  };
  Pipe before_watch = make_pipe(), before_start = make_pipe();
  ASSERT_TRUE(before_watch.reader.valid() && before_start.reader.valid());
  // Counted on the loop thread, which may outlive this test's body if an assertion fails.
  auto reports = std::make_shared<std::array<std::atomic<int>, 2>>();
  ASSERT_EQ(::write(before_watch.writer.get(), "a", 1), 1);
  ASSERT_TRUE(loop_->watch_edge(before_watch.reader.get(), [reports] { ++(*reports)[0]; }).ok());
  ASSERT_TRUE(loop_->watch_edge(before_start.reader.get(), [reports] { ++(*reports)[1]; }).ok());
  ASSERT_EQ(::write(before_start.writer.get(), "b", 1), 1);
  ASSERT_TRUE(loop_->start().ok());
  EXPECT_TRUE(eventually([&] { return (*reports)[0] == 1 && (*reports)[1] == 1; }));
  ASSERT_EQ(::write(before_watch.writer.get(), "c", 1), 1);
  EXPECT_TRUE(eventually([&] { return (*reports)[0] == 2; }));
  loop_.reset();  // stopped before the pipes close
}

}  // namespace
}  // namespace vmhive
