// The pause gate that parks every vCPU between two instructions for a snapshot.
#include "vmm/pause_gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace vmhive {
namespace {

TEST(PauseGate, ParksUntilResumedAndReleasesOnShutdown) {
  PauseGate gate;
  std::atomic<int> parked_returns{0};
  gate.park();  // no pause asked: returns at once
  gate.request_pause();
  EXPECT_TRUE(gate.pause_requested());
  std::thread first([&] {
    gate.park();
    ++parked_returns;
  });
  std::thread second([&] {
    gate.park();
    ++parked_returns;
  });
  EXPECT_TRUE(gate.wait_until_parked(2, std::chrono::seconds(5)));
  EXPECT_EQ(parked_returns.load(), 0);
  gate.resume();
  first.join();
  second.join();
  EXPECT_EQ(parked_returns.load(), 2);
  EXPECT_FALSE(gate.pause_requested());

  gate.request_pause();
  std::thread third([&] { gate.park(); });
  EXPECT_TRUE(gate.wait_until_parked(1, std::chrono::seconds(5)));
  gate.shutdown();
  third.join();
  EXPECT_FALSE(gate.wait_until_parked(1, std::chrono::milliseconds(10)));
}

}  // namespace
}  // namespace vmhive
