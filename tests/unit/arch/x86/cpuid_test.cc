#include "arch/x86/cpuid.h"

#include <gtest/gtest.h>

#include <cstring>

namespace vmhive::x86 {
namespace {

kvm_cpuid_entry2 entry(uint32_t leaf, uint32_t subleaf, uint32_t eax, uint32_t ebx, uint32_t ecx, uint32_t edx,
                       bool indexed = false) {
  kvm_cpuid_entry2 e{};
  e.function = leaf;
  e.index = subleaf;
  e.flags = indexed ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
  e.eax = eax;
  e.ebx = ebx;
  e.ecx = ecx;
  e.edx = edx;
  return e;
}

// A small stand-in for KVM_GET_SUPPORTED_CPUID on a modern Intel host.
std::vector<kvm_cpuid_entry2> host_like_table() {
  return {
      entry(0, 0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69),
      entry(1, 0, 0x806c1, 0x00000800, 0xfffa3203, 0x178bfbff),
      entry(4, 0, 0x1c004121, 0x01c0003f, 0x3f, 0, true),
      entry(7, 0, 0, 0xf3bfa7ab, 0x0040075e, 0xbc000410, true),
      entry(7, 1, 0x30, 0, 0, 0, true),
      entry(0xb, 0, 1, 2, 0x100, 7, true),
      entry(0xd, 0, 0x2e7, 0x340, 0xa88, 0, true),
      entry(0xd, 1, 0xf, 0, 0, 0, true),
      entry(0x1f, 0, 1, 2, 0x100, 7, true),
      entry(0x40000000, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d),
      entry(0x40000001, 0, 0x01007afb, 0, 0, 0),
      entry(0x80000001, 0, 0, 0, 0x121, 0x2c100800),
      entry(0x80000008, 0, 0x3027, 0, 0, 0),
  };
}

TEST(CpuTemplates, KnownNamesResolveAndUnknownNamesFail) {
  EXPECT_TRUE(find_cpu_template("host").ok());
  EXPECT_TRUE(find_cpu_template("pvm").ok());
  auto unknown = find_cpu_template("skylake");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("host"), std::string::npos);
}

TEST(CpuTemplates, HostTemplateChangesNothing) {
  auto table = host_like_table();
  auto result = apply_template(table, **find_cpu_template("host"));
  ASSERT_EQ(result.size(), table.size());
  for (size_t i = 0; i < table.size(); ++i) {
    EXPECT_EQ(result[i].ecx, table[i].ecx);
    EXPECT_EQ(result[i].ebx, table[i].ebx);
  }
}

TEST(CpuTemplates, PvmTemplateHidesXsaveFamilyAndCmpxchg16b) {
  auto result = apply_template(host_like_table(), **find_cpu_template("pvm"));
  const auto* leaf1 = find_cpuid_entry(result, 1);
  ASSERT_NE(leaf1, nullptr);
  EXPECT_EQ(leaf1->ecx & (1u << 26), 0u) << "XSAVE";
  EXPECT_EQ(leaf1->ecx & (1u << 27), 0u) << "OSXSAVE";
  EXPECT_EQ(leaf1->ecx & (1u << 28), 0u) << "AVX";
  EXPECT_EQ(leaf1->ecx & (1u << 13), 0u) << "CMPXCHG16B";
  EXPECT_EQ(leaf1->ecx & (1u << 30), 0u) << "RDRAND";
  EXPECT_NE(leaf1->ecx & (1u << 0), 0u) << "SSE3 stays";
  EXPECT_EQ(leaf1->edx, 0x178bfbffu) << "EDX untouched";
  const auto* leaf7 = find_cpuid_entry(result, 7, 0);
  ASSERT_NE(leaf7, nullptr);
  EXPECT_EQ(leaf7->ebx & (1u << 5), 0u) << "AVX2";
  EXPECT_EQ(leaf7->ebx & (1u << 16), 0u) << "AVX512F";
  EXPECT_EQ(leaf7->ebx & (1u << 0), 0u) << "FSGSBASE";
  EXPECT_NE(leaf7->ebx & (1u << 3), 0u) << "BMI1 stays";
  EXPECT_EQ(find_cpuid_entry(result, 0xd, 0), nullptr) << "XSAVE leaf removed";
  EXPECT_EQ(find_cpuid_entry(result, 0xd, 1), nullptr);
}

TEST(CpuidForVcpu, SetsApicIdHypervisorBitAndCount) {
  auto result = cpuid_for_vcpu(host_like_table(), 3, 4);
  const auto* leaf1 = find_cpuid_entry(result, 1);
  ASSERT_NE(leaf1, nullptr);
  EXPECT_EQ(leaf1->ebx >> 24, 3u);
  EXPECT_EQ((leaf1->ebx >> 16) & 0xff, 4u);
  EXPECT_NE(leaf1->ecx & (1u << 31), 0u);
  EXPECT_NE(leaf1->edx & (1u << 28), 0u);
}

TEST(CpuidForVcpu, TopologyLeavesDescribeOneCorePerVcpu) {
  auto result = cpuid_for_vcpu(host_like_table(), 2, 4);
  const auto* smt = find_cpuid_entry(result, 0xb, 0);
  const auto* core = find_cpuid_entry(result, 0xb, 1);
  const auto* end = find_cpuid_entry(result, 0xb, 2);
  ASSERT_TRUE(smt && core && end);
  EXPECT_EQ(smt->ebx, 1u);
  EXPECT_EQ(smt->edx, 2u);
  EXPECT_EQ(core->eax, 2u) << "shift: 4 cores need 2 bits";
  EXPECT_EQ(core->ebx, 4u);
  EXPECT_EQ((core->ecx >> 8) & 0xff, 2u) << "level type core";
  EXPECT_EQ((end->ecx >> 8) & 0xff, 0u) << "terminating level";
  const auto* ext = find_cpuid_entry(result, 0x1f, 1);
  ASSERT_NE(ext, nullptr);
  EXPECT_EQ(ext->ebx, 4u);
  const auto* leaf4 = find_cpuid_entry(result, 4, 0);
  ASSERT_NE(leaf4, nullptr);
  EXPECT_EQ(leaf4->eax >> 26, 3u);
}

TEST(CpuidForVcpu, SingleVcpuHasZeroShift) {
  auto result = cpuid_for_vcpu(host_like_table(), 0, 1);
  const auto* core = find_cpuid_entry(result, 0xb, 1);
  ASSERT_NE(core, nullptr);
  EXPECT_EQ(core->eax, 0u);
  EXPECT_EQ(core->ebx, 1u);
}

TEST(CpuidForVcpu, AddsKvmSignatureWhenMissing) {
  auto table = host_like_table();
  std::erase_if(table, [](const kvm_cpuid_entry2& e) { return e.function >= 0x40000000 && e.function < 0x80000000; });
  auto result = cpuid_for_vcpu(table, 0, 1);
  const auto* signature = find_cpuid_entry(result, 0x40000000);
  ASSERT_NE(signature, nullptr);
  char text[13] = {};
  std::memcpy(text, &signature->ebx, 4);
  std::memcpy(text + 4, &signature->ecx, 4);
  std::memcpy(text + 8, &signature->edx, 4);
  EXPECT_STREQ(text, "KVMKVMKVM");
  EXPECT_GE(signature->eax, 0x40000001u);
  EXPECT_NE(find_cpuid_entry(result, 0x40000001), nullptr);
}

}  // namespace
}  // namespace vmhive::x86
