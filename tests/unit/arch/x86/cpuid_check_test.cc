// The CPUID check a restore makes: every feature the guest saw must be offered here.
#include <gtest/gtest.h>

#include "arch/x86/cpuid.h"

namespace vmhive {
namespace {

kvm_cpuid_entry2 leaf(uint32_t function, uint32_t index, uint32_t ebx, uint32_t ecx, uint32_t edx) {
  kvm_cpuid_entry2 entry{};
  entry.function = function;
  entry.index = index;
  entry.ebx = ebx;
  entry.ecx = ecx;
  entry.edx = edx;
  return entry;
}

TEST(CpuidCheck, ASnapshotNeedingAMissingFeatureIsRefused) {
  const std::vector<kvm_cpuid_entry2> host{leaf(1, 0, 0, 0x00000001, 0x1), leaf(7, 0, 0x8, 0, 0)};
  // OSXSAVE and the hypervisor bit are not host features.
  EXPECT_TRUE(x86::check_cpuid_supported({leaf(1, 0, 0, 0x88000001, 0x1)}, host).ok());
  auto missing = x86::check_cpuid_supported({leaf(1, 0, 0, 0x1, 0x1), leaf(7, 0, 0x28, 0, 0)}, host);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("leaf 0x7.0 ebx bits 0x00000020"), std::string::npos)
      << missing.error().message;
}

}  // namespace
}  // namespace vmhive
