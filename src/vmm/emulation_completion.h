// What vmhive does when KVM cannot emulate a guest instruction
// (KVM_EXIT_INTERNAL_ERROR, emulation failure): on KVM-PVM hosts a non-PVM
// guest's ring 0 is emulated, and the host's emulator refuses instructions
// Linux uses (docs/pvm.md). Where it is sound, vmhive completes the
// instruction itself from the bytes KVM reports, and the guest goes on.
#pragma once

#include <linux/kvm.h>

#include "kvm/vcpu.h"
#include "memory/guest_memory.h"

namespace vmhive {

// Returns true when the instruction was carried out (registers updated, or
// the exception it raises queued); false when it is not one vmhive can
// complete, and the VM must stop with the instruction and registers.
// Memory operands are reached through the guest's page tables in `memory`.
bool complete_emulation_failure(const kvm::Vcpu& vcpu, const kvm_run& run, const GuestMemory& memory);

}  // namespace vmhive
