#include "vmm/emulation_completion.h"

#include <algorithm>
#include <span>

#include "arch/x86/instruction_completion.h"
#include "arch/x86/software_exception.h"

namespace vmhive {

// An instruction the host's emulator refused (KVM-PVM refuses INT3 and
// POPCNT in ring 0) is completed here when that is sound: register
// arithmetic is carried out on the registers, and an instruction that only
// raises an exception raises it (RIP steps past a trap, and the guest's own
// handler runs as on hardware). Returns false for anything else (the VM
// then stops with the instruction and registers).
bool complete_emulation_failure(const kvm::Vcpu& vcpu, const kvm_run& run) {
  if (run.internal.suberror != KVM_INTERNAL_ERROR_EMULATION ||
      (run.emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) == 0) {
    return false;
  }
  const size_t size = std::min<size_t>(run.emulation_failure.insn_size, sizeof run.emulation_failure.insn_bytes);
  const std::span<const uint8_t> bytes(run.emulation_failure.insn_bytes, size);
  auto regs = vcpu.get_regs();
  if (!regs.ok()) return false;
  auto sregs = vcpu.get_sregs();
  if (!sregs.ok()) return false;
  const bool long_mode = sregs->cs.l != 0;
  const unsigned privilege_level = sregs->cs.selector & 3;
  if (x86::complete_register_instruction(bytes, *regs, long_mode, privilege_level)) {
    if (!vcpu.set_regs(*regs).ok()) return false;
    return true;
  }
  auto exception = x86::decode_software_exception(bytes);
  if (!exception && !bytes.empty() && bytes[0] == 0x9b) {
    auto fpu = vcpu.get_fpu();
    if (!fpu.ok()) return false;
    exception = x86::decode_fwait(bytes, sregs->cr0, fpu->fsw);
  }
  if (!exception) return false;
  regs->rip += exception->rip_advance;
  if (!vcpu.set_regs(*regs).ok()) return false;
  if (exception->vector != 0 && !vcpu.inject_exception(exception->vector).ok()) return false;
  return true;
}

}  // namespace vmhive
