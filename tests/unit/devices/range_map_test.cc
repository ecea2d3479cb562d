// The range map both buses stand on: what it accepts, what it finds, and
// what its errors say.
#include "devices/range_map.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

namespace vmhive {
namespace {

struct Device {
  int id;
};

using PortMap = RangeMap<uint16_t, Device>;
using AddressMap = RangeMap<uint64_t, Device>;

// The device holding `address`, or null.
template <class Map>
const Device* owner(const Map& map, uint64_t address) {
  const auto* range = map.find(address);
  return range != nullptr ? range->device : nullptr;
}

TEST(RangeMap, FindsTheRangeHoldingAnAddress) {
  Device a{1}, b{2};
  PortMap map("I/O port");
  ASSERT_TRUE(map.add(0x3f8, 8, &a).ok());
  ASSERT_TRUE(map.add(0x70, 2, &b).ok());  // out of order
  EXPECT_EQ(owner(map, 0x3f8), &a);
  EXPECT_EQ(owner(map, 0x3ff), &a);
  EXPECT_EQ(owner(map, 0x71), &b);
  EXPECT_EQ(map.find(0x72), nullptr);
  EXPECT_EQ(map.find(0x6f), nullptr);
  EXPECT_EQ(map.find(0x400), nullptr);
  EXPECT_EQ(map.find(0), nullptr);
  const auto* uart = map.find(0x3fa);
  ASSERT_NE(uart, nullptr);
  EXPECT_EQ(uart->first, 0x3f8);
  EXPECT_EQ(uart->last, 0x3ff);
}

TEST(RangeMap, RefusesOverlapsButNotNeighbours) {
  Device a{1}, b{2};
  AddressMap map("MMIO");
  ASSERT_TRUE(map.add(0x1000, 0x100, &a).ok());
  EXPECT_FALSE(map.add(0x10ff, 1, &b).ok());     // the last byte
  EXPECT_FALSE(map.add(0xf00, 0x101, &b).ok());  // the first byte
  EXPECT_FALSE(map.add(0x1010, 4, &b).ok());     // inside
  EXPECT_FALSE(map.add(0x800, 0x1000, &b).ok()); // around
  EXPECT_TRUE(map.add(0xf00, 0x100, &b).ok());   // right below
  EXPECT_TRUE(map.add(0x1100, 0x100, &b).ok());  // right above
  EXPECT_EQ(map.size(), 3u);
}

TEST(RangeMap, ErrorsNameTheRanges) {
  Device a{1};
  PortMap map("I/O port");
  ASSERT_TRUE(map.add(0x60, 5, &a).ok());
  auto overlap = map.add(0x64, 2, &a);
  ASSERT_FALSE(overlap.ok());
  EXPECT_EQ(overlap.error().message, "I/O port range 0x64-0x65 overlaps 0x60-0x64, already claimed");
  auto empty = map.add(0x100, 0, &a);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().message, "I/O port range at 0x100 has zero length");
  auto no_device = map.add(0x200, 1, nullptr);
  ASSERT_FALSE(no_device.ok());
  EXPECT_EQ(no_device.error().message, "I/O port range at 0x200: no device given");
  auto past = map.add(0xfff0, 0x11, &a);
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.error().message,
            "I/O port range at 0xfff0 (0x11 bytes) runs past the end of the I/O port space (0xffff)");
}

TEST(RangeMap, ARangeMayEndAtTheTopOfItsSpace) {
  Device a{1}, b{2};
  PortMap ports("I/O port");
  ASSERT_TRUE(ports.add(0xfff0, 0x10, &a).ok());
  EXPECT_EQ(owner(ports, 0xffff), &a);
  EXPECT_EQ(ports.find(0x10000), nullptr);  // past the space, not a wrapped 0
  AddressMap mmio("MMIO");
  EXPECT_FALSE(mmio.add(~0ull - 10, 100, &a).ok());
  EXPECT_FALSE(mmio.add(2, ~0ull, &a).ok());  // [2, 2^64]: one byte too many
  ASSERT_TRUE(mmio.add(~0ull - 0xff, 0x100, &b).ok());
  EXPECT_EQ(owner(mmio, ~0ull), &b);
  EXPECT_TRUE(mmio.add(0, ~0ull - 0xff, &a).ok());  // everything below it
  EXPECT_EQ(owner(mmio, 0), &a);
  EXPECT_EQ(owner(mmio, ~0ull - 0x100), &a);
}

TEST(RangeMap, FindHoldingWantsTheWholeAccess) {
  Device a{1};
  AddressMap map("MMIO");
  ASSERT_TRUE(map.add(0xfe000000, 0x100, &a).ok());
  EXPECT_NE(map.find_holding(0xfe000000, 0x100), nullptr);
  EXPECT_NE(map.find_holding(0xfe0000f8, 8), nullptr);
  EXPECT_EQ(map.find_holding(0xfe0000fe, 4), nullptr);  // straddles the end
  EXPECT_EQ(map.find_holding(0xfe000000, 0), nullptr);  // empty
  EXPECT_EQ(map.find_holding(0xfd000000, 4), nullptr);
  ASSERT_TRUE(map.add(~0ull - 3, 4, &a).ok());
  EXPECT_NE(map.find_holding(~0ull - 3, 4), nullptr);
  EXPECT_EQ(map.find_holding(~0ull - 1, 4), nullptr);  // would wrap past the top
}

TEST(RangeMap, RemoveTakesOnlyTheOwnersRange) {
  Device a{1}, b{2};
  AddressMap map("MMIO");
  ASSERT_TRUE(map.add(0x1000, 0x100, &a).ok());
  EXPECT_FALSE(map.remove(0x1000, &b));
  EXPECT_FALSE(map.remove(0x1010, &a));
  EXPECT_FALSE(map.remove(0x2000, &a));
  EXPECT_TRUE(map.remove(0x1000, &a));
  EXPECT_EQ(map.find(0x1000), nullptr);
  EXPECT_EQ(map.size(), 0u);
  EXPECT_TRUE(map.add(0x1000, 0x100, &b).ok());
}

TEST(RangeMap, ManyRangesInAnyOrder) {
  std::vector<Device> devices(64, Device{0});
  std::vector<int> order(64);
  std::iota(order.begin(), order.end(), 0);
  std::reverse(order.begin(), order.end());
  std::rotate(order.begin(), order.begin() + 17, order.end());
  AddressMap map("MMIO");
  for (int i : order) {
    ASSERT_TRUE(map.add(0x10000 + uint64_t(i) * 0x1000, 0x800, &devices[i]).ok()) << i;
  }
  for (int i = 0; i < 64; ++i) {
    const uint64_t base = 0x10000 + uint64_t(i) * 0x1000;
    EXPECT_EQ(owner(map, base), &devices[i]);
    EXPECT_EQ(owner(map, base + 0x7ff), &devices[i]);
    EXPECT_EQ(map.find(base + 0x800), nullptr);  // the gap between ranges
  }
}

}  // namespace
}  // namespace vmhive
