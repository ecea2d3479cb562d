// The debug-exit port: a byte written is the VM's exit code.
#include "devices/legacy/debug_exit.h"

#include <gtest/gtest.h>

#include "pio_test_support.h"

namespace vmhive::devices {
namespace {

using pio_test::in8;
using pio_test::out8;
using pio_test::StopRecorder;

TEST(DebugExit, WriteStopsWithTheCode) {
  StopRecorder stops;
  DebugExit port(stops.callback());
  out8(port, 0, 7);
  out8(port, 0, 0);
  ASSERT_EQ(stops.requests.size(), 2u);
  EXPECT_EQ(stops.requests[0].reason, StopReason::kDebugExit);
  EXPECT_EQ(stops.requests[0].debug_exit_code, 7);
  EXPECT_EQ(stops.requests[1].reason, StopReason::kDebugExit);
  EXPECT_EQ(stops.requests[1].debug_exit_code, 0);
}

TEST(DebugExit, WideWriteUsesTheLowByte) {
  StopRecorder stops;
  DebugExit port(stops.callback());
  const uint8_t word[4] = {0x2a, 0x01, 0x02, 0x03};
  port.write(0, word);
  ASSERT_EQ(stops.requests.size(), 1u);
  EXPECT_EQ(stops.requests[0].debug_exit_code, 0x2a);
}

TEST(DebugExit, ReadsAllOnesAndStopsNothing) {
  StopRecorder stops;
  DebugExit port(stops.callback());
  EXPECT_EQ(in8(port, 0), 0xff);
  uint8_t word[2] = {};
  port.read(0, word);
  EXPECT_EQ(word[0], 0xff);
  EXPECT_EQ(word[1], 0xff);
  EXPECT_TRUE(stops.requests.empty());
}

}  // namespace
}  // namespace vmhive::devices
