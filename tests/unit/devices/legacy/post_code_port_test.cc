// Port 0x80: POST codes are remembered, nothing more.
#include "devices/legacy/post_code_port.h"

#include <gtest/gtest.h>

#include <atomic>

#include "pio_test_support.h"

namespace vmhive::devices {
namespace {

using pio_test::in8;
using pio_test::out8;

// The exits test guest hammers this port; taking it must never block.
static_assert(std::atomic<uint8_t>::is_always_lock_free);

TEST(PostCodePort, StartsAtZero) {
  PostCodePort port;
  EXPECT_EQ(port.last_code(), 0);
  EXPECT_EQ(in8(port, 0), 0);
}

TEST(PostCodePort, RemembersTheLastCode) {
  PostCodePort port;
  out8(port, 0, 0x42);
  out8(port, 0, 0x99);
  EXPECT_EQ(port.last_code(), 0x99);
  EXPECT_EQ(in8(port, 0), 0x99);
}

TEST(PostCodePort, WideAccesses) {
  PostCodePort port;
  const uint8_t word[2] = {0x12, 0x34};
  port.write(0, word);
  EXPECT_EQ(port.last_code(), 0x12);
  uint8_t read_back[2] = {};
  port.read(0, read_back);
  EXPECT_EQ(read_back[0], 0x12);
}

}  // namespace
}  // namespace vmhive::devices
