// The entry state every vCPU starts from, checked against the SDM's raw
// numbers (not registers.h's names, so a wrong name cannot hide here).
#include "arch/x86/cpu_boot_state.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "arch/x86/layout.h"

namespace vmhive::x86 {
namespace {

TEST(CpuBootState, LongModeEntryRegisters) {
  const kvm_sregs sregs = entry_sregs(kvm_sregs{}, true);
  EXPECT_EQ(sregs.cr0, 0x80000011u);  // PG | ET | PE
  EXPECT_EQ(sregs.cr4, 0x20u);        // PAE
  EXPECT_EQ(sregs.efer, 0x500u);      // LMA | LME
  EXPECT_EQ(sregs.cr3, kPml4Address);
  EXPECT_EQ(sregs.cs.l, 1);
  EXPECT_EQ(sregs.cs.selector, 0x10);
}

TEST(CpuBootState, ProtectedModeEntryRegisters) {
  const kvm_sregs sregs = entry_sregs(kvm_sregs{}, false);
  EXPECT_EQ(sregs.cr0, 0x11u);  // ET | PE, paging off
  EXPECT_EQ(sregs.cr4, 0u);
  EXPECT_EQ(sregs.efer, 0u);
  EXPECT_EQ(sregs.cs.l, 0);
  EXPECT_EQ(sregs.cs.db, 1);
  const kvm_regs regs = entry_regs(CpuEntry{false, 0x100000, 0x6000, 0});
  EXPECT_EQ(regs.rflags, 0x2u);  // the always-one bit; IF clear
  EXPECT_EQ(regs.rip, 0x100000u);
  EXPECT_EQ(regs.rbx, 0x6000u);
}

TEST(CpuBootState, FpuAndMsrsAtPowerOnValues) {
  const kvm_fpu fpu = initial_fpu();
  EXPECT_EQ(fpu.fcw, 0x37f);
  EXPECT_EQ(fpu.mxcsr, 0x1f80u);
  std::vector<std::pair<uint32_t, uint64_t>> msrs;
  for (const auto& msr : initial_msrs()) msrs.emplace_back(msr.index, msr.value);
  const std::vector<std::pair<uint32_t, uint64_t>> expected = {
      {0x174, 0},      {0x175, 0},      {0x176, 0},      {0xc0000081, 0}, {0xc0000082, 0},
      {0xc0000083, 0}, {0xc0000084, 0}, {0xc0000102, 0}, {0x1a0, 1},      {0x2ff, 0x806}};
  EXPECT_EQ(msrs, expected);
}

TEST(CpuBootState, IdentityMapOfTheFirstFourGiB) {
  auto memory = GuestMemory::create(ram_regions(16ull << 20));
  ASSERT_TRUE(memory.ok());
  ASSERT_TRUE(write_boot_tables(*memory, true).ok());
  EXPECT_EQ(*memory->read_obj<uint64_t>(kPml4Address), kPdptAddress | 0x3);  // present, writable
  for (uint64_t gib = 0; gib < 4; ++gib) {
    EXPECT_EQ(*memory->read_obj<uint64_t>(kPdptAddress + gib * 8), (kPdAddress + gib * 4096) | 0x3);
  }
  // 2 MiB pages: present, writable, PS.
  EXPECT_EQ(*memory->read_obj<uint64_t>(kPdAddress), 0x83u);
  EXPECT_EQ(*memory->read_obj<uint64_t>(kPdAddress + 3 * 4096 + 511 * 8), 0xffe00083u);
}

}  // namespace
}  // namespace vmhive::x86
