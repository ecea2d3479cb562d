#include "arch/x86/syscall_semantics.h"

namespace vmhive::x86 {
namespace {

// RFLAGS bits SYSRET takes from R11 (SDM: R11 & 3C7FD7H | 2).
constexpr uint64_t kSysretRflagsMask = 0x3c7fd7;
constexpr uint8_t kTypeExecuteReadAccessed = 0xb;
constexpr uint8_t kTypeReadWriteAccessed = 0x3;

kvm_segment flat_segment(uint16_t selector, uint8_t type, uint8_t dpl, bool long_code, bool default_32) {
  kvm_segment segment{};
  segment.base = 0;
  segment.limit = 0xffffffff;
  segment.selector = selector;
  segment.type = type;
  segment.present = 1;
  segment.dpl = dpl;
  segment.db = default_32 ? 1 : 0;
  segment.s = 1;
  segment.l = long_code ? 1 : 0;
  segment.g = 1;
  return segment;
}

uint16_t star_field(uint64_t star, unsigned shift) { return static_cast<uint16_t>(star >> shift); }

bool is_canonical(uint64_t address) {
  const auto high = static_cast<int64_t>(address) >> 47;
  return high == 0 || high == -1;
}

}  // namespace

kvm_segment syscall_code_segment(uint64_t star) {
  return flat_segment(static_cast<uint16_t>(star_field(star, 32) & ~3u), kTypeExecuteReadAccessed, 0, true, false);
}

kvm_segment syscall_stack_segment(uint64_t star) {
  return flat_segment(static_cast<uint16_t>((star_field(star, 32) + 8) & ~3u), kTypeReadWriteAccessed, 0, false, true);
}

kvm_segment sysret_code_segment(uint64_t star, bool to_64_bit) {
  const uint16_t base = star_field(star, 48);
  const uint16_t selector = static_cast<uint16_t>((to_64_bit ? base + 16 : base) | 3u);
  return flat_segment(selector, kTypeExecuteReadAccessed, 3, to_64_bit, !to_64_bit);
}

kvm_segment sysret_stack_segment(uint64_t star) {
  return flat_segment(static_cast<uint16_t>((star_field(star, 48) + 8) | 3u), kTypeReadWriteAccessed, 3, false, true);
}

bool is_stranded_syscall(const ExceptionFrame& frame, uint64_t fault_address, uint64_t lstar, uint64_t cstar) {
  // The fetch bit (4) is only reported with NX on, so it is not required;
  // a fault address equal to RIP is what marks an instruction fetch.
  if ((frame.cs & 3) != 3 || (frame.error_code & kPageFaultUser) == 0) return false;
  if (frame.rip != fault_address) return false;
  return (lstar != 0 && frame.rip == lstar) || (cstar != 0 && frame.rip == cstar);
}

void finish_stranded_syscall(const ExceptionFrame& frame, uint64_t star, kvm_regs& regs, kvm_sregs& sregs) {
  regs.rip = frame.rip;
  regs.rsp = frame.rsp;
  regs.rflags = (frame.rflags & ~kRflagsResume) | kRflagsAlwaysOne;
  sregs.cs = syscall_code_segment(star);
  sregs.ss = syscall_stack_segment(star);
}

std::optional<bool> decode_sysret(std::span<const uint8_t> instruction) {
  bool to_64_bit = false;
  size_t at = 0;
  if (!instruction.empty() && (instruction[0] & 0xf0) == 0x40) {
    to_64_bit = (instruction[0] & 0x08) != 0;  // REX.W
    at = 1;
  }
  if (instruction.size() < at + 2 || instruction[at] != 0x0f || instruction[at + 1] != 0x07) return std::nullopt;
  return to_64_bit;
}

SysretResult complete_sysret(std::span<const uint8_t> instruction, uint64_t star, kvm_regs& regs, kvm_sregs& sregs) {
  const std::optional<bool> sysret = decode_sysret(instruction);
  if (!sysret) return SysretResult::kNotSysret;
  const bool to_64_bit = *sysret;
  if ((sregs.cs.selector & 3) != 0 || sregs.cs.l == 0) return SysretResult::kGeneralProtection;
  if (to_64_bit && !is_canonical(regs.rcx)) return SysretResult::kGeneralProtection;
  regs.rip = to_64_bit ? regs.rcx : (regs.rcx & 0xffffffffu);
  regs.rflags = (regs.r11 & kSysretRflagsMask) | kRflagsAlwaysOne;
  sregs.cs = sysret_code_segment(star, to_64_bit);
  sregs.ss = sysret_stack_segment(star);
  return SysretResult::kCompleted;
}

}  // namespace vmhive::x86
