#include "arch/x86/cpu_boot_state.h"

#include <array>
#include <cstring>

#include "arch/x86/layout.h"
#include "arch/x86/registers.h"

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
  VMHIVE_CHECK(memory.write_obj<uint64_t>(kPml4Address, kPdptAddress | kPtePresent | kPteWritable));
  for (uint64_t gib = 0; gib < 4; ++gib) {
    uint64_t pd = kPdAddress + gib * 4096;
    VMHIVE_CHECK(memory.write_obj<uint64_t>(kPdptAddress + gib * 8, pd | kPtePresent | kPteWritable));
    std::array<uint64_t, 512> entries{};
    for (uint64_t i = 0; i < 512; ++i)
      entries[i] = ((gib << 30) + (i << 21)) | kPtePresent | kPteWritable | kPteLargePage;
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
  sregs.cr0 = kCr0ProtectionEnable | kCr0ExtensionType;
  sregs.cr4 = 0;
  sregs.efer = 0;
  if (long_mode) {
    sregs.cr3 = kPml4Address;
    sregs.cr0 |= kCr0Paging;
    sregs.cr4 |= kCr4PhysicalAddressExtension;
    sregs.efer |= kEferLongModeEnable | kEferLongModeActive;
  }
  return sregs;
}

kvm_regs entry_regs(const CpuEntry& entry) {
  kvm_regs regs{};
  regs.rflags = kRflagsAlwaysOne;  // interrupts off
  regs.rip = entry.rip;
  regs.rbx = entry.rbx;
  regs.rsi = entry.rsi;
  regs.rsp = kBootStackTop;
  regs.rbp = kBootStackTop;
  return regs;
}

kvm_fpu initial_fpu() {
  kvm_fpu fpu{};
  fpu.fcw = kFcwAtReset;
  fpu.mxcsr = kMxcsrAtReset;
  return fpu;
}

std::vector<kvm::MsrValue> initial_msrs() {
  return {
      {kMsrSysenterCs, 0},
      {kMsrSysenterEsp, 0},
      {kMsrSysenterEip, 0},
      {kMsrStar, 0},
      {kMsrLstar, 0},
      {kMsrCstar, 0},
      {kMsrSyscallMask, 0},
      {kMsrKernelGsBase, 0},
      {kMsrMiscEnable, kMiscEnableFastStrings},
      {kMsrMtrrDefType, kMtrrDefTypeEnable | kMemoryTypeWriteBack},
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
