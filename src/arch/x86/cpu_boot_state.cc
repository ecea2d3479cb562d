#include "arch/x86/cpu_boot_state.h"

#include <array>
#include <cstring>

#include "arch/x86/layout.h"

namespace vmhive::x86 {
namespace {

// Intel SDM Vol. 3A §3.4.5 segment descriptor fields.
constexpr uint64_t kCode32 = 0x00cf9b000000ffffull;  // base 0, limit 4G, exec/read, D=1
constexpr uint64_t kCode64 = 0x00af9b000000ffffull;  // L=1
constexpr uint64_t kData = 0x00cf93000000ffffull;    // read/write, B=1
constexpr uint64_t kTss = 0x00008b0000000067ull;     // busy 32-bit TSS, limit 0x67

constexpr uint16_t kCodeSelector = 0x10;
constexpr uint16_t kDataSelector = 0x18;
constexpr uint16_t kTssSelector = 0x20;

constexpr uint64_t kCr0Pe = 1ull << 0;
constexpr uint64_t kCr0Et = 1ull << 4;
constexpr uint64_t kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1ull << 5;
constexpr uint64_t kEferLme = 1ull << 8;
constexpr uint64_t kEferLma = 1ull << 10;

constexpr uint64_t kPagePresentWritable = 0x3;
constexpr uint64_t kPageHuge = 0x80;

kvm_segment flat_segment(uint16_t selector, uint8_t type, bool long_mode_code) {
  kvm_segment segment{};
  segment.base = 0;
  segment.limit = 0xffffffff;
  segment.selector = selector;
  segment.type = type;
  segment.present = 1;
  segment.dpl = 0;
  segment.db = long_mode_code ? 0 : 1;
  segment.s = 1;
  segment.l = long_mode_code ? 1 : 0;
  segment.g = 1;
  return segment;
}

}  // namespace

Result<void> write_boot_tables(const GuestMemory& memory, bool long_mode) {
  const std::array<uint64_t, 5> gdt = {0, 0, long_mode ? kCode64 : kCode32, kData, kTss};
  VMHIVE_CHECK(memory.write_obj(kBootGdtAddress, gdt));
  VMHIVE_CHECK(memory.fill(kBootIdtAddress, 0, 8));
  if (!long_mode) return {};

  VMHIVE_CHECK(memory.fill(kPml4Address, 0, 4096));
  VMHIVE_CHECK(memory.fill(kPdptAddress, 0, 4096));
  VMHIVE_CHECK(memory.write_obj<uint64_t>(kPml4Address, kPdptAddress | kPagePresentWritable));
  for (uint64_t gib = 0; gib < 4; ++gib) {
    uint64_t pd = kPdAddress + gib * 4096;
    VMHIVE_CHECK(memory.write_obj<uint64_t>(kPdptAddress + gib * 8, pd | kPagePresentWritable));
    std::array<uint64_t, 512> entries{};
    for (uint64_t i = 0; i < 512; ++i)
      entries[i] = ((gib << 30) + (i << 21)) | kPagePresentWritable | kPageHuge;
    VMHIVE_CHECK(memory.write_obj(pd, entries));
  }
  return {};
}

kvm_sregs entry_sregs(kvm_sregs sregs, bool long_mode) {
  sregs.gdt.base = kBootGdtAddress;
  sregs.gdt.limit = 5 * 8 - 1;
  sregs.idt.base = kBootIdtAddress;
  sregs.idt.limit = 0;
  sregs.cs = flat_segment(kCodeSelector, 0xb, long_mode);
  kvm_segment data = flat_segment(kDataSelector, 0x3, false);
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
  sregs.tr = kvm_segment{};
  sregs.tr.selector = kTssSelector;
  sregs.tr.limit = 0x67;
  sregs.tr.type = 0xb;
  sregs.tr.present = 1;
  sregs.ldt = kvm_segment{};
  sregs.ldt.type = 0x2;
  sregs.ldt.present = 1;
  sregs.ldt.limit = 0xffff;
  sregs.cr0 = kCr0Pe | kCr0Et;
  sregs.cr4 = 0;
  sregs.efer = 0;
  if (long_mode) {
    sregs.cr3 = kPml4Address;
    sregs.cr0 |= kCr0Pg;
    sregs.cr4 |= kCr4Pae;
    sregs.efer |= kEferLme | kEferLma;
  }
  return sregs;
}

kvm_regs entry_regs(const CpuEntry& entry) {
  kvm_regs regs{};
  regs.rflags = 0x2;  // bit 1 is always set; interrupts off
  regs.rip = entry.rip;
  regs.rbx = entry.rbx;
  regs.rsi = entry.rsi;
  regs.rsp = kBootStackTop;
  regs.rbp = kBootStackTop;
  return regs;
}

kvm_fpu initial_fpu() {
  kvm_fpu fpu{};
  fpu.fcw = 0x37f;
  fpu.mxcsr = 0x1f80;
  return fpu;
}

std::vector<kvm::MsrValue> initial_msrs() {
  // Intel SDM Vol. 4 MSR numbers.
  return {
      {0x174, 0},                     // IA32_SYSENTER_CS
      {0x175, 0},                     // IA32_SYSENTER_ESP
      {0x176, 0},                     // IA32_SYSENTER_EIP
      {0xc0000081, 0},                // STAR
      {0xc0000082, 0},                // LSTAR
      {0xc0000083, 0},                // CSTAR
      {0xc0000084, 0},                // SYSCALL_MASK
      {0xc0000102, 0},                // KERNEL_GS_BASE
      {0x1a0, 1},                     // IA32_MISC_ENABLE: fast strings
      {0x2ff, (1ull << 11) | 6},      // IA32_MTRR_DEF_TYPE: enabled, write-back
  };
}

void set_virtual_wire_lints(kvm_lapic_state& lapic) {
  // Local APIC register offsets (Intel SDM Vol. 3A §11.5.1): LVT LINT0 0x350, LINT1 0x360.
  constexpr size_t kLint0 = 0x350;
  constexpr size_t kLint1 = 0x360;
  constexpr uint32_t kDeliveryModeMask = 0x700;
  constexpr uint32_t kMasked = 1u << 16;
  constexpr uint32_t kExtInt = 0x700;
  constexpr uint32_t kNmi = 0x400;
  auto update = [&](size_t offset, uint32_t mode) {
    uint32_t value;
    std::memcpy(&value, &lapic.regs[offset], sizeof value);
    value = (value & ~(kDeliveryModeMask | kMasked)) | mode;
    std::memcpy(&lapic.regs[offset], &value, sizeof value);
  };
  update(kLint0, kExtInt);
  update(kLint1, kNmi);
}

}  // namespace vmhive::x86
