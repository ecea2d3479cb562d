#include "arch/x86/software_exception.h"

#include <vector>

#include <gtest/gtest.h>

namespace vmhive::x86 {
namespace {

std::optional<SoftwareException> decode(std::vector<uint8_t> bytes) { return decode_software_exception(bytes); }

TEST(SoftwareException, Int3IsABreakpointTrap) {
  auto exception = decode({0xcc, 0x90, 0x90});
  ASSERT_TRUE(exception);
  EXPECT_EQ(exception->vector, kVectorBreakpoint);
  EXPECT_EQ(exception->rip_advance, 1);
}

TEST(SoftwareException, IntImmediateThreeIsTwoBytes) {
  auto exception = decode({0xcd, 0x03});
  ASSERT_TRUE(exception);
  EXPECT_EQ(exception->vector, kVectorBreakpoint);
  EXPECT_EQ(exception->rip_advance, 2);
  EXPECT_FALSE(decode({0xcd, 0x80}));  // other vectors are not exceptions to fake
  EXPECT_FALSE(decode({0xcd}));        // truncated
}

TEST(SoftwareException, Int1IsADebugTrap) {
  auto exception = decode({0xf1});
  ASSERT_TRUE(exception);
  EXPECT_EQ(exception->vector, kVectorDebug);
  EXPECT_EQ(exception->rip_advance, 1);
}

TEST(SoftwareException, Ud2FaultsAtTheInstruction) {
  auto exception = decode({0x0f, 0x0b});
  ASSERT_TRUE(exception);
  EXPECT_EQ(exception->vector, kVectorInvalidOpcode);
  EXPECT_EQ(exception->rip_advance, 0);
  EXPECT_EQ(exception->length, 2);  // a fault: RIP stays, but the instruction is two bytes
  EXPECT_FALSE(decode({0x0f}));        // truncated
  EXPECT_FALSE(decode({0x0f, 0xae}));  // XRSTOR family: not an exception
}

TEST(SoftwareException, AnythingElseIsRefused) {
  EXPECT_FALSE(decode({}));
  EXPECT_FALSE(decode({0x48, 0x0f, 0xae, 0x2f}));  // xrstor64 (%rdi)
  EXPECT_FALSE(decode({0x66, 0xcc}));              // prefixed: not decoded
  EXPECT_FALSE(decode({0x90}));
  EXPECT_FALSE(decode({0xf0, 0x48, 0x0f, 0xc7, 0x0e}));  // lock cmpxchg16b
}

TEST(SoftwareException, FwaitIsANopUnlessTheFpuSaysOtherwise) {
  const std::vector<uint8_t> fwait = {0x9b, 0x65, 0x48};
  auto nothing = decode_fwait(fwait, 0x80050033, 0);
  ASSERT_TRUE(nothing);
  EXPECT_EQ(nothing->vector, 0);
  EXPECT_EQ(nothing->rip_advance, 1);
  auto pending = decode_fwait(fwait, 0x80050033, 0x0081);  // ES and IE: an unmasked invalid operation
  ASSERT_TRUE(pending);
  EXPECT_EQ(pending->vector, kVectorX87Error);
  EXPECT_EQ(pending->rip_advance, 0);
  auto lazy = decode_fwait(fwait, 0x80050033 | 0x8, 0);  // TS with MP
  ASSERT_TRUE(lazy);
  EXPECT_EQ(lazy->vector, kVectorDeviceNotAvailable);
  auto ts_without_mp = decode_fwait(fwait, 0x80050031 | 0x8, 0);
  EXPECT_EQ(ts_without_mp->vector, 0);
  EXPECT_FALSE(decode_fwait({}, 0, 0));
  EXPECT_FALSE(decode_fwait(std::vector<uint8_t>{0x90}, 0, 0));
}

}  // namespace
}  // namespace vmhive::x86
