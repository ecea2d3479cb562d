#include "kvm/ioctl_numbers.h"

#include <gtest/gtest.h>

namespace vmhive::kvm::ioctls {
namespace {

TEST(KernelList, EntriesStartAtTheKernelsCOffset) {
  CpuidList cpuid(3);
  auto* base = static_cast<uint8_t*>(cpuid.data());
  EXPECT_EQ(reinterpret_cast<uint8_t*>(cpuid.entries()) - base, 8);
  EXPECT_EQ(cpuid.count(), 3u);
  EXPECT_EQ(cpuid.capacity(), 3u);
  uint32_t raw_count;
  std::memcpy(&raw_count, base, sizeof raw_count);
  EXPECT_EQ(raw_count, 3u);

  MsrList msrs(2);
  EXPECT_EQ(reinterpret_cast<uint8_t*>(msrs.entries()) - static_cast<uint8_t*>(msrs.data()), 8);
  MsrIndexList indices(5);
  EXPECT_EQ(reinterpret_cast<uint8_t*>(indices.entries()) - static_cast<uint8_t*>(indices.data()), 4);
}

TEST(KernelList, CountCanShrinkAfterTheKernelFillsIt) {
  CpuidList cpuid(128);
  cpuid.set_count(75);
  EXPECT_EQ(cpuid.count(), 75u);
  EXPECT_EQ(cpuid.capacity(), 128u);
}

}  // namespace
}  // namespace vmhive::kvm::ioctls
