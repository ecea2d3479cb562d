// Register state for the first instruction of a guest: flat segments, and
// for a 64-bit entry the identity page tables; the MSRs, FPU and local APIC
// set-up every vCPU gets before it first runs.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <vector>

#include "common/result.h"
#include "kvm/vcpu.h"
#include "memory/guest_memory.h"

namespace vmhive::x86 {

// How the bootstrap processor enters the guest.
struct CpuEntry {
  bool long_mode;      // false: 32-bit protected mode, paging off (PVH)
  uint64_t rip;
  uint64_t rbx;        // PVH: hvm_start_info
  uint64_t rsi;        // Linux 64-bit boot protocol: zero page
};

// Writes the boot GDT (selectors 0x10 code, 0x18 data, 0x20 TSS) and, for a
// long-mode entry, page tables identity-mapping the first 4 GiB with 2 MiB pages.
Result<void> write_boot_tables(const GuestMemory& memory, bool long_mode);

// Segment and control registers for the entry, starting from the vCPU's reset state.
kvm_sregs entry_sregs(kvm_sregs sregs, bool long_mode);
kvm_regs entry_regs(const CpuEntry& entry);

// x87 control word and MXCSR at their power-on values.
kvm_fpu initial_fpu();
// MSRs at the values a firmware would leave: fast strings on, MTRRs enabled
// with write-back as the default type, SYSCALL MSRs cleared.
std::vector<kvm::MsrValue> initial_msrs();
// Local APIC LINT0 as ExtINT (the PIC's virtual wire) and LINT1 as NMI, as
// the MP specification's virtual wire mode expects of firmware.
void set_virtual_wire_lints(kvm_lapic_state& lapic);

}  // namespace vmhive::x86
