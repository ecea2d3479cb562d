// Finishing, per vCPU, the SYSCALLs that KVM-PVM leaves half done.
//
// On SYSCALL from a non-PVM guest's ring 3, KVM-PVM jumps to the guest's
// LSTAR but stays in ring 3 (arch/x86/syscall_semantics.h). The guest then
// takes a page fault on the supervisor-only entry code. vmhive cannot see
// the SYSCALL itself (a hardware breakpoint on LSTAR does not fire in the
// natively run ring 3), but it can see the page fault: a hardware breakpoint
// on the guest's page-fault handler fires in the emulated ring 0. There,
// if the fault is ring 3 fetching the SYSCALL target, vmhive rewinds the
// exception and finishes the SYSCALL as the CPU would have (ring 0 at the
// target with the user's stack and flags). Any other page fault runs on:
// vmhive single-steps the handler's first instruction with the breakpoint
// off, then puts the breakpoint back.
//
// The breakpoint is armed when the guest writes LSTAR (a trapped MSR
// write): by then Linux has installed its final IDT. Only used on KVM-PVM.
#pragma once

#include <linux/kvm.h>

#include <cstdint>

#include "common/result.h"
#include "kvm/vcpu.h"
#include "memory/guest_memory.h"

namespace vmhive::x86 {

enum class DebugExitOutcome {
  kNotOurs,          // a debug exit vmhive did not ask for
  kResumed,          // an ordinary page fault: the guest's handler runs on
  kSyscallFinished,  // a stranded SYSCALL was finished in ring 0
};

class PvmSyscallRepair {
 public:
  PvmSyscallRepair(const kvm::Vcpu& vcpu, const GuestMemory& memory) : vcpu_(&vcpu), memory_(&memory) {}

  // The guest wrote LSTAR (KVM_EXIT_X86_WRMSR): write it, then arm the
  // breakpoint on the current IDT's page-fault handler.
  Result<void> on_lstar_write(uint64_t value);
  Result<DebugExitOutcome> on_debug_exit(const kvm_debug_exit_arch& debug);

  // For snapshots: where the breakpoint is (0: none) and whether the
  // handler's first instruction is being single-stepped. restore() sets the
  // vCPU's guest-debug registers to match.
  struct State {
    uint64_t handler = 0;
    bool stepping = false;

    template <class Codec, class Self>
    static Result<void> fields(Codec& codec, Self& self) {
      return codec.field(self.handler, self.stepping);
    }
  };
  State state() const { return State{handler_, stepping_}; }
  Result<void> restore(const State& state);

 private:
  Result<void> arm();
  Result<void> set_breakpoint(uint64_t address, bool single_step);
  Result<uint64_t> page_fault_handler(const kvm_sregs& sregs) const;
  Result<bool> finish_if_stranded(kvm_regs& regs, kvm_sregs& sregs) const;

  const kvm::Vcpu* vcpu_;
  const GuestMemory* memory_;
  uint64_t handler_ = 0;  // where the breakpoint is, 0 if none
  bool stepping_ = false;
};

}  // namespace vmhive::x86
