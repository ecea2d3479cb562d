// A type-0 configuration header: identity, what a driver may write, BAR
// sizing and moving (32- and 64-bit), and the capability list.
#include "devices/pci/config_space.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>

namespace vmhive::pci {
namespace {

constexpr DeviceIdentity kIdentity{0x1af4, 0x1044, 0x00ff00, 1, 0x1af4, 0x0004};

uint32_t read32(const ConfigSpace& space, uint16_t offset) {
  uint32_t value = 0;
  space.read(offset, std::span(reinterpret_cast<uint8_t*>(&value), 4));
  return value;
}

void write32(ConfigSpace& space, uint16_t offset, uint32_t value) {
  space.write(offset, std::span(reinterpret_cast<const uint8_t*>(&value), 4));
}

TEST(PciConfigSpace, IdentityIsReadOnly) {
  ConfigSpace space(kIdentity);
  EXPECT_EQ(read32(space, kVendorId), 0x10441af4u);
  EXPECT_EQ(read32(space, kRevisionId), 0x00ff0001u);
  EXPECT_EQ(read32(space, kSubsystemVendorId), 0x00041af4u);
  write32(space, kVendorId, 0);
  write32(space, kRevisionId, 0);
  EXPECT_EQ(read32(space, kVendorId), 0x10441af4u);
  EXPECT_EQ(read32(space, kRevisionId), 0x00ff0001u);
  EXPECT_EQ(space.read16(kStatus) & kStatusCapabilitiesList, 0) << "no capabilities yet";
  EXPECT_EQ(read32(space, 0x30), 0u) << "no expansion ROM";
  write32(space, 0x30, 0xffffffff);
  EXPECT_EQ(read32(space, 0x30), 0u);
}

TEST(PciConfigSpace, CommandKeepsOnlyDefinedBits) {
  ConfigSpace space(kIdentity);
  space.write(kCommand, std::array<uint8_t, 2>{0xff, 0xff});
  EXPECT_EQ(space.command(), kCommandIoSpace | kCommandMemorySpace | kCommandBusMaster | (1u << 6) | (1u << 8) |
                                 kCommandIntxDisable);
  EXPECT_EQ(space.read16(kStatus), 0) << "status is not writable";
  space.write(kInterruptLine, std::array<uint8_t, 2>{0x0b, 0x01});
  EXPECT_EQ(space.read16(kInterruptLine), 0x000b) << "line is scratch, pin stays 0 (no INTx)";
}

TEST(PciConfigSpace, SizesAndMovesA32BitBar) {
  ConfigSpace space(kIdentity);
  ASSERT_TRUE(space.add_memory_bar(0, 0x4000, false, false).ok());
  EXPECT_EQ(read32(space, kBar0), 0u);
  write32(space, kBar0, 0xffffffff);
  EXPECT_EQ(read32(space, kBar0), 0xffffc000u) << "size mask, memory, 32-bit, not prefetchable";
  write32(space, kBar0, 0xfebf1234);
  EXPECT_EQ(read32(space, kBar0), 0xfebf0000u);
  EXPECT_EQ(space.bar_address(0), 0xfebf0000u);
  EXPECT_EQ(space.bar_size(0), 0x4000u);
  EXPECT_EQ(space.bar_size(1), 0u);
  write32(space, kBar0 + 4, 0xffffffff);
  EXPECT_EQ(read32(space, kBar0 + 4), 0u) << "unimplemented BAR";
}

TEST(PciConfigSpace, SizesAndMovesA64BitBar) {
  ConfigSpace space(kIdentity);
  ASSERT_TRUE(space.add_memory_bar(2, 0x100000, true, true).ok());
  EXPECT_EQ(read32(space, kBar0 + 8), 0xcu);
  write32(space, kBar0 + 8, 0xffffffff);
  write32(space, kBar0 + 12, 0xffffffff);
  EXPECT_EQ(read32(space, kBar0 + 8), 0xfff0000cu);
  EXPECT_EQ(read32(space, kBar0 + 12), 0xffffffffu);
  write32(space, kBar0 + 8, 0x40000000);
  write32(space, kBar0 + 12, 0x80);
  EXPECT_EQ(space.bar_address(2), 0x8040000000ull);
  EXPECT_FALSE(space.add_memory_bar(3, 0x1000, false, false).ok()) << "upper half of BAR 2";
}

TEST(PciConfigSpace, RejectsBadBars) {
  ConfigSpace space(kIdentity);
  EXPECT_FALSE(space.add_memory_bar(6, 0x1000, false, false).ok());
  EXPECT_FALSE(space.add_memory_bar(5, 0x1000, true, false).ok());
  EXPECT_FALSE(space.add_memory_bar(0, 0x3000, false, false).ok());
  EXPECT_FALSE(space.add_memory_bar(0, 0x800, false, false).ok());
  EXPECT_FALSE(space.add_memory_bar(0, 1ull << 32, false, false).ok());
  ASSERT_TRUE(space.add_memory_bar(0, 0x1000, false, false).ok());
  EXPECT_FALSE(space.add_memory_bar(0, 0x1000, false, false).ok());
}

TEST(PciConfigSpace, CapabilitiesFormAList) {
  ConfigSpace space(kIdentity);
  const std::array<uint8_t, 14> first{1, 2, 3};
  const std::array<uint8_t, 2> second{0, 0};
  const std::array<uint8_t, 2> second_writable{0x00, 0xc0};
  auto a = space.add_capability(0x09, first);
  auto b = space.add_capability(0x11, second, second_writable);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, 0x40);
  EXPECT_EQ(*b, 0x50);
  EXPECT_NE(space.read16(kStatus) & kStatusCapabilitiesList, 0);
  uint8_t pointer = 0;
  space.read(kCapabilitiesPointer, std::span(&pointer, 1));
  EXPECT_EQ(pointer, 0x40);
  EXPECT_EQ(space.read16(0x40), 0x5009) << "id 9, next 0x50";
  EXPECT_EQ(space.read16(0x50), 0x0011) << "id 0x11, end of list";
  space.write(0x52, std::array<uint8_t, 2>{0xff, 0xff});
  EXPECT_EQ(space.read16(0x52), 0xc000) << "only the writable bits";
  space.write(0x50, std::array<uint8_t, 2>{0xff, 0xff});
  EXPECT_EQ(space.read16(0x50), 0x0011) << "id and next are read-only";
  EXPECT_FALSE(space.add_capability(0x11, second, first).ok()) << "mask of the wrong length";
}

TEST(PciConfigSpace, CapabilitiesStopWhenSpaceRunsOut) {
  ConfigSpace space(kIdentity);
  const std::array<uint8_t, 46> body{};
  int added = 0;
  while (space.add_capability(0x09, body).ok()) ++added;
  EXPECT_EQ(added, 4) << "4 x 48 bytes from 0x40 fill the 256-byte header";
}

TEST(PciConfigSpace, ExtendedOffsetsReadZero) {
  ConfigSpace space(kIdentity);
  EXPECT_EQ(read32(space, 0x100), 0u);
  write32(space, 0x100, 0xffffffff);
  EXPECT_EQ(read32(space, 0xffc), 0u);
}

}  // namespace
}  // namespace vmhive::pci
