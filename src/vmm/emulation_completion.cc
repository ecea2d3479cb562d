#include "vmm/emulation_completion.h"

#include <algorithm>
#include <span>

#include "arch/x86/instruction_completion.h"
#include "arch/x86/memory_operand.h"
#include "arch/x86/page_walk.h"
#include "arch/x86/software_exception.h"
#include "arch/x86/syscall_semantics.h"

namespace vmhive {
namespace {

constexpr uint8_t kVectorGeneralProtection = 13;
// MXCSR bits a guest may set (SDM: MXCSR_MASK from FXSAVE; 0xffff on every CPU with DAZ).
constexpr uint32_t kMxcsrWritableBits = 0xffff;

// LDMXCSR m32 (0F AE /2) and STMXCSR m32 (0F AE /3): KVM-PVM's emulator
// refuses them, and Linux runs LDMXCSR in kernel_fpu_begin(). Only at CPL 0,
// where every mapped page is reachable, so no U/S check is needed.
bool complete_mxcsr_access(const kvm::Vcpu& vcpu, std::span<const uint8_t> bytes, kvm_regs& regs,
                           const kvm_sregs& sregs, const GuestMemory& memory) {
  if ((sregs.cs.selector & 3) != 0) return false;
  auto instruction = x86::decode_0f_memory_instruction(bytes, regs, sregs);
  if (!instruction || instruction->opcode != 0xae || (instruction->reg != 2 && instruction->reg != 3)) return false;
  const x86::PagingState paging{sregs.cr0, sregs.cr3, sregs.cr4, sregs.efer};
  auto fpu = vcpu.get_fpu();
  if (!fpu.ok()) return false;
  uint32_t value = 0;
  auto* value_bytes = reinterpret_cast<uint8_t*>(&value);
  if (instruction->reg == 2) {
    if (!x86::read_linear(memory, paging, instruction->linear_address, std::span(value_bytes, 4)).ok()) return false;
    if ((value & ~kMxcsrWritableBits) != 0) return vcpu.inject_exception(kVectorGeneralProtection, 0).ok();
    fpu->mxcsr = value;
    if (!vcpu.set_fpu(*fpu).ok()) return false;
  } else {
    value = fpu->mxcsr;
    if (!x86::write_linear(memory, paging, instruction->linear_address, std::span<const uint8_t>(value_bytes, 4))
             .ok()) {
      return false;
    }
  }
  regs.rip += instruction->length;
  return vcpu.set_regs(regs).ok();
}

// SYSRET: KVM's emulator has no SYSRET, and Linux returns from most system
// calls with it.
bool complete_sysret(const kvm::Vcpu& vcpu, std::span<const uint8_t> bytes, kvm_regs& regs, kvm_sregs& sregs) {
  kvm_regs probe_regs = regs;
  kvm_sregs probe_sregs = sregs;
  if (x86::complete_sysret(bytes, 0, probe_regs, probe_sregs) == x86::SysretResult::kNotSysret) return false;
  auto star = vcpu.get_msrs({x86::kMsrStar});
  if (!star.ok()) return false;
  switch (x86::complete_sysret(bytes, (*star)[0], regs, sregs)) {
    case x86::SysretResult::kNotSysret:
      return false;
    case x86::SysretResult::kGeneralProtection:
      return vcpu.inject_exception(kVectorGeneralProtection, 0).ok();
    case x86::SysretResult::kCompleted:
      return vcpu.set_sregs(sregs).ok() && vcpu.set_regs(regs).ok();
  }
  return false;
}

// SWAPGS (0F 01 F8) at CPL 0 in 64-bit code: exchanges GS.base with
// IA32_KERNEL_GS_BASE. Linux runs it on every entry from and exit to user mode.
bool complete_swapgs(const kvm::Vcpu& vcpu, std::span<const uint8_t> bytes, kvm_regs& regs, kvm_sregs& sregs) {
  if (bytes.size() < 3 || bytes[0] != 0x0f || bytes[1] != 0x01 || bytes[2] != 0xf8) return false;
  if ((sregs.cs.selector & 3) != 0 || sregs.cs.l == 0) return false;
  auto kernel_gs_base = vcpu.get_msrs({x86::kMsrKernelGsBase});
  if (!kernel_gs_base.ok()) return false;
  const uint64_t old_gs_base = sregs.gs.base;
  sregs.gs.base = (*kernel_gs_base)[0];
  if (!vcpu.set_msrs({{x86::kMsrKernelGsBase, old_gs_base}}).ok() || !vcpu.set_sregs(sregs).ok()) return false;
  regs.rip += 3;
  return vcpu.set_regs(regs).ok();
}

}  // namespace

// An instruction the host's emulator refused (KVM-PVM refuses INT3 and
// POPCNT in ring 0) is completed here when that is sound: register
// arithmetic is carried out on the registers, and an instruction that only
// raises an exception raises it (RIP steps past a trap, and the guest's own
// handler runs as on hardware). Returns false for anything else (the VM
// then stops with the instruction and registers).
bool complete_emulation_failure(const kvm::Vcpu& vcpu, const kvm_run& run, const GuestMemory& memory) {
  if (run.internal.suberror != KVM_INTERNAL_ERROR_EMULATION ||
      (run.emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) == 0) {
    return false;
  }
  const size_t size = std::min<size_t>(run.emulation_failure.insn_size, sizeof run.emulation_failure.insn_bytes);
  const std::span<const uint8_t> bytes(run.emulation_failure.insn_bytes, size);
  auto regs = vcpu.get_regs();
  if (!regs.ok()) return false;
  auto sregs = vcpu.get_sregs_for_update();
  if (!sregs.ok()) return false;
  const bool long_mode = sregs->cs.l != 0;
  const unsigned privilege_level = sregs->cs.selector & 3;
  if (x86::complete_register_instruction(bytes, *regs, long_mode, privilege_level)) {
    if (!vcpu.set_regs(*regs).ok()) return false;
    return true;
  }
  if (complete_mxcsr_access(vcpu, bytes, *regs, *sregs, memory)) return true;
  if (complete_sysret(vcpu, bytes, *regs, *sregs)) return true;
  if (complete_swapgs(vcpu, bytes, *regs, *sregs)) return true;
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
