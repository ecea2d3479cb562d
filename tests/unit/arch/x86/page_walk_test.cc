#include "arch/x86/page_walk.h"

#include <gtest/gtest.h>

namespace vmhive::x86 {
namespace {

constexpr uint64_t kPml4 = 0x10000, kPdpt = 0x11000, kPd = 0x12000, kPt = 0x13000;
constexpr uint64_t kPresentWritable = 0x3, kPresentReadOnly = 0x1, kLarge = 0x80;
constexpr PagingState kLongMode{0x80050033, kPml4, 0x20, 0xd00};

class PageWalkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto memory = GuestMemory::create({{0, 16 << 20}});
    ASSERT_TRUE(memory.ok());
    memory_ = std::make_unique<GuestMemory>(std::move(*memory));
    // 0xffffffff80000000: PML4[511] -> PDPT[510] -> PD.
    set(kPml4 + 511 * 8, kPdpt | kPresentWritable);
    set(kPdpt + 510 * 8, kPd | kPresentWritable);
    set(kPd + 0 * 8, kPt | kPresentWritable);            // first 2 MiB: 4 KiB pages
    set(kPt + 1 * 8, 0x200000 | kPresentWritable);        // page 1 -> 2 MiB
    set(kPt + 2 * 8, 0x300000 | kPresentReadOnly);        // page 2 read-only
    set(kPd + 1 * 8, 0x400000 | kPresentWritable | kLarge | 0x1000);  // a 2 MiB page (PAT bit set)
    set(kPml4 + 0, kPdpt | kPresentWritable);               // low half shares the PDPT
    set(kPdpt + 1 * 8, 0x40000000 | kPresentWritable | kLarge);  // a 1 GiB page at 1 GiB
  }
  void set(uint64_t address, uint64_t entry) { ASSERT_TRUE(memory_->write_obj(address, entry).ok()); }
  Result<uint64_t> walk(uint64_t linear, AccessKind access = AccessKind::kRead, PagingState paging = kLongMode) {
    return translate_linear(*memory_, paging, linear, access);
  }
  std::unique_ptr<GuestMemory> memory_;
};

TEST_F(PageWalkTest, FourKilobytePages) {
  EXPECT_EQ(*walk(0xffffffff80001234), 0x200234u);
  EXPECT_EQ(*walk(0xffffffff80002ff8), 0x300ff8u);
}

TEST_F(PageWalkTest, LargePagesIgnoreThePatBit) {
  EXPECT_EQ(*walk(0xffffffff80212345), 0x412345u);
  EXPECT_EQ(*walk(0x40000000 + 0x123456), 0x40123456u);
}

TEST_F(PageWalkTest, NotPresentAndNonCanonicalFail) {
  EXPECT_FALSE(walk(0xffffffff80000000).ok());  // PT entry 0 not present
  EXPECT_FALSE(walk(0xffff800000000000).ok());  // PML4[256] not present
  EXPECT_FALSE(walk(0x0000800000000000).ok());  // not canonical
}

TEST_F(PageWalkTest, WriteProtectHonoured) {
  EXPECT_FALSE(walk(0xffffffff80002000, AccessKind::kWrite).ok());
  PagingState no_wp = kLongMode;
  no_wp.cr0 &= ~(1ull << 16);
  EXPECT_TRUE(walk(0xffffffff80002000, AccessKind::kWrite, no_wp).ok());
}

TEST_F(PageWalkTest, PagingOffIsIdentity) {
  EXPECT_EQ(*walk(0x123456, AccessKind::kRead, PagingState{0x11, 0, 0, 0}), 0x123456u);
}

TEST_F(PageWalkTest, TablesOutsideRamAndUnsupportedModesFail) {
  set(kPml4 + 5 * 8, 0x7fff0000000ull | kPresentWritable);  // a PDPT far outside RAM
  EXPECT_FALSE(walk(5ull << 39).ok());
  EXPECT_FALSE(walk(0x1000, AccessKind::kRead, PagingState{0x80000011, kPml4, 0x20, 0}).ok());  // 32-bit PAE
  EXPECT_FALSE(walk(0x1000, AccessKind::kRead, PagingState{0x80050033, kPml4, 0x1020, 0xd00}).ok());  // LA57
}

}  // namespace
}  // namespace vmhive::x86

namespace vmhive::x86 {
namespace {

TEST_F(PageWalkTest, ReadAndWriteLinearCrossPagesThatAreNotAdjacent) {
  // Linear pages 1 and 2 map to 2 MiB and 3 MiB: an 8-byte access at the
  // end of page 1 is split between them.
  ASSERT_TRUE(memory_->write_obj<uint32_t>(0x200ffc, 0x11223344).ok());
  ASSERT_TRUE(memory_->write_obj<uint32_t>(0x300000, 0x55667788).ok());
  uint64_t value = 0;
  ASSERT_TRUE(read_linear(*memory_, kLongMode, 0xffffffff80001ffc,
                          std::span(reinterpret_cast<uint8_t*>(&value), sizeof value))
                  .ok());
  EXPECT_EQ(value, 0x5566778811223344u);

  const uint64_t written = 0x0102030405060708;
  const auto bytes = std::span(reinterpret_cast<const uint8_t*>(&written), sizeof written);
  // Into a read-only page: refused (page 2 is read-only with CR0.WP set).
  EXPECT_FALSE(write_linear(*memory_, kLongMode, 0xffffffff80001ffc, bytes).ok());
  // Entirely inside page 1: done.
  ASSERT_TRUE(write_linear(*memory_, kLongMode, 0xffffffff80001100, bytes).ok());
  uint64_t back = 0;
  ASSERT_TRUE(memory_->read(0x200100, std::span(reinterpret_cast<uint8_t*>(&back), sizeof back)).ok());
  EXPECT_EQ(back, written);
}

TEST_F(PageWalkTest, ReadLinearFailsWhenAnyPageIsMissing) {
  uint64_t value = 0;
  // Page 0 of the kernel mapping is not present; page 1 is.
  EXPECT_FALSE(read_linear(*memory_, kLongMode, 0xffffffff80000ffc,
                           std::span(reinterpret_cast<uint8_t*>(&value), sizeof value))
                   .ok());
}

}  // namespace
}  // namespace vmhive::x86
