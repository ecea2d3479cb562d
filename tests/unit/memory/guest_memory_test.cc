#include "memory/guest_memory.h"

#include <gtest/gtest.h>

#include <array>

#include "arch/x86/layout.h"

namespace vmhive {
namespace {

TEST(GuestMemory, RejectsUnalignedAndOverlappingRegions) {
  EXPECT_FALSE(GuestMemory::create({}).ok());
  EXPECT_FALSE(GuestMemory::create({{0, 100}}).ok());
  EXPECT_FALSE(GuestMemory::create({{0, 0x2000}, {0x1000, 0x1000}}).ok());
}

TEST(GuestMemory, SliceInsideRegionSucceeds) {
  auto memory = GuestMemory::create({{0, 0x10000}, {0x100000, 0x10000}});
  ASSERT_TRUE(memory.ok()) << memory.error().message;
  EXPECT_TRUE(memory->slice(0, 0x10000).ok());
  EXPECT_TRUE(memory->slice(0x100000, 0x10000).ok());
  EXPECT_TRUE(memory->slice(0xffff, 1).ok());
}

TEST(GuestMemory, SliceOutsideOrAcrossRegionsFails) {
  auto memory = GuestMemory::create({{0, 0x10000}, {0x100000, 0x10000}});
  ASSERT_TRUE(memory.ok());
  EXPECT_FALSE(memory->slice(0x10000, 1).ok());
  EXPECT_FALSE(memory->slice(0xffff, 2).ok());
  EXPECT_FALSE(memory->slice(0x10000, 0x100000).ok());
  EXPECT_FALSE(memory->slice(0x10ffff, 2).ok());
  EXPECT_FALSE(memory->slice(~0ull, 2).ok());
  EXPECT_FALSE(memory->slice(0x1000, ~0ull).ok());
}

TEST(GuestMemory, ReadBackWhatWasWritten) {
  auto memory = GuestMemory::create({{0, 0x10000}});
  ASSERT_TRUE(memory.ok());
  ASSERT_TRUE(memory->write_obj<uint64_t>(0x1238, 0x1122334455667788ull).ok());
  auto value = memory->read_obj<uint64_t>(0x1238);
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, 0x1122334455667788ull);
  EXPECT_FALSE(memory->write_obj<uint64_t>(0xfffc, 1).ok());
}

TEST(X86Layout, SmallGuestHasOneRegionAndThreeRamEntries) {
  auto regions = x86::ram_regions(128ull << 20);
  ASSERT_EQ(regions.size(), 1u);
  EXPECT_EQ(regions[0].size, 128ull << 20);
  auto map = x86::e820_map(128ull << 20);
  ASSERT_EQ(map.size(), 3u);
  EXPECT_EQ(map[0].type, x86::E820Type::kRam);
  EXPECT_EQ(map[1].type, x86::E820Type::kReserved);
  EXPECT_EQ(map[2].address + map[2].size, 128ull << 20);
}

TEST(X86Layout, LargeGuestSplitsAroundThePciHole) {
  uint64_t size = 5ull << 30;
  auto regions = x86::ram_regions(size);
  ASSERT_EQ(regions.size(), 2u);
  EXPECT_EQ(regions[0].size, x86::kPciHoleStart);
  EXPECT_EQ(regions[1].guest_address, x86::kPciHoleEnd);
  EXPECT_EQ(regions[0].size + regions[1].size, size);
  auto map = x86::e820_map(size);
  ASSERT_EQ(map.size(), 4u);
  EXPECT_EQ(map[2].address + map[2].size, x86::kPciHoleStart);
  EXPECT_EQ(map[3].address, x86::kPciHoleEnd);
}

}  // namespace
}  // namespace vmhive
