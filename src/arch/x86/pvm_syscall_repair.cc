#include "arch/x86/pvm_syscall_repair.h"

#include <array>
#include <cstring>

#include "arch/x86/page_walk.h"
#include "arch/x86/registers.h"
#include "arch/x86/syscall_semantics.h"

namespace vmhive::x86 {
namespace {

constexpr unsigned kVectorPageFault = 14;
constexpr size_t kIdtGateSize = 16;

PagingState paging_of(const kvm_sregs& sregs) { return {sregs.cr0, sregs.cr3, sregs.cr4, sregs.efer}; }

}  // namespace

Result<void> PvmSyscallRepair::on_lstar_write(uint64_t value) {
  VMHIVE_CHECK(vcpu_->set_msrs({{kMsrLstar, value}}));
  if (stepping_) return {};  // arm() runs when the step ends
  return arm();
}

Result<uint64_t> PvmSyscallRepair::page_fault_handler(const kvm_sregs& sregs) const {
  const uint64_t gate_offset = kVectorPageFault * kIdtGateSize;
  if (sregs.idt.limit < gate_offset + kIdtGateSize - 1) return make_error("the IDT has no page-fault gate");
  std::array<uint8_t, kIdtGateSize> gate{};
  VMHIVE_CHECK(read_linear(*memory_, paging_of(sregs), sregs.idt.base + gate_offset, gate));
  uint16_t low, middle;
  uint32_t high;
  std::memcpy(&low, &gate[0], 2);
  std::memcpy(&middle, &gate[6], 2);
  std::memcpy(&high, &gate[8], 4);
  if ((gate[5] & 0x80) == 0) return make_error("the page-fault gate is not present");
  return (static_cast<uint64_t>(high) << 32) | (static_cast<uint64_t>(middle) << 16) | low;
}

Result<void> PvmSyscallRepair::set_breakpoint(uint64_t address, bool single_step) {
  kvm_guest_debug debug{};
  debug.control = KVM_GUESTDBG_ENABLE;
  if (single_step) {
    debug.control |= KVM_GUESTDBG_SINGLESTEP;
  } else if (address != 0) {
    debug.control |= KVM_GUESTDBG_USE_HW_BP;
    debug.arch.debugreg[0] = address;
    debug.arch.debugreg[7] = kDr7LocalEnable0;
  }
  return vcpu_->set_guest_debug(debug);
}

Result<void> PvmSyscallRepair::restore(const State& state) {
  handler_ = state.handler;
  stepping_ = state.stepping;
  if (handler_ == 0 && !stepping_) return {};
  return set_breakpoint(handler_, stepping_);
}

Result<void> PvmSyscallRepair::arm() {
  const kvm_sregs sregs = VMHIVE_TRY(vcpu_->get_sregs());
  auto handler = page_fault_handler(sregs);
  handler_ = handler.ok() ? *handler : 0;  // no IDT yet: nothing to watch
  return set_breakpoint(handler_, false);
}

Result<bool> PvmSyscallRepair::finish_if_stranded(kvm_regs& regs, kvm_sregs& sregs) const {
  std::array<uint64_t, 6> words{};
  auto frame_bytes = std::span(reinterpret_cast<uint8_t*>(words.data()), sizeof words);
  if (!read_linear(*memory_, paging_of(sregs), regs.rsp, frame_bytes).ok()) return false;
  const ExceptionFrame frame{words[0], words[1], words[2], words[3], words[4], words[5]};
  const auto msrs = VMHIVE_TRY(vcpu_->get_msrs({kMsrStar, kMsrLstar, kMsrCstar}));
  if (!is_stranded_syscall(frame, sregs.cr2, msrs[1], msrs[2])) return false;
  x86::finish_stranded_syscall(frame, msrs[0], regs, sregs);
  VMHIVE_CHECK(vcpu_->set_sregs(sregs));
  VMHIVE_CHECK(vcpu_->set_regs(regs));
  return true;
}

Result<DebugExitOutcome> PvmSyscallRepair::on_debug_exit(const kvm_debug_exit_arch& debug) {
  if (stepping_ && (debug.dr6 & kDr6SingleStep) != 0) {
    stepping_ = false;
    VMHIVE_CHECK(arm());
    return DebugExitOutcome::kResumed;
  }
  if (handler_ == 0 || (debug.dr6 & kDr6Breakpoint0) == 0 || debug.pc != handler_) return DebugExitOutcome::kNotOurs;
  kvm_regs regs = VMHIVE_TRY(vcpu_->get_regs());
  kvm_sregs sregs = VMHIVE_TRY(vcpu_->get_sregs_for_update());
  if (VMHIVE_TRY(finish_if_stranded(regs, sregs))) return DebugExitOutcome::kSyscallFinished;
  // An ordinary page fault: run the handler's first instruction without the
  // breakpoint (which would fire again at once), then arm it again.
  stepping_ = true;
  VMHIVE_CHECK(set_breakpoint(0, true));
  return DebugExitOutcome::kResumed;
}

}  // namespace vmhive::x86
