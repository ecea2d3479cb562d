#include "vmm/crash_report.h"

#include <span>
#include <string_view>

#include "arch/x86/instruction_names.h"
#include "common/hex.h"

namespace vmhive {
namespace {

const char* suberror_name(uint32_t suberror) {
  switch (suberror) {
    case KVM_INTERNAL_ERROR_EMULATION: return "instruction emulation failed";
    case KVM_INTERNAL_ERROR_SIMUL_EX: return "exception while delivering an exception";
    case KVM_INTERNAL_ERROR_DELIVERY_EV: return "exception during event delivery";
    case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON: return "unexpected hardware exit";
    default: return "internal error";
  }
}

// " (fldz)", " (xrstor64, if 64-bit code)", or nothing for bytes the namer does not know.
std::string instruction_name(std::span<const uint8_t> bytes, std::optional<bool> long_mode) {
  if (long_mode) {
    const auto name = x86::name_instruction(bytes, *long_mode);
    return name ? " (" + std::string(*name) + ")" : "";
  }
  const auto as_64_bit = x86::name_instruction(bytes, true);
  if (!as_64_bit) return "";
  const bool same_in_32_bit = x86::name_instruction(bytes, false) == as_64_bit;
  return " (" + std::string(*as_64_bit) + (same_in_32_bit ? ")" : ", if 64-bit code)");
}

// "name 0123456789abcdef": a register as 16 hex digits, as the report aligns them.
std::string field(std::string_view name, uint64_t value) {
  return "  " + std::string(name) + " " + hex_digits(value, 16);
}

}  // namespace

std::string describe_internal_error(const kvm_run& run, std::optional<bool> long_mode) {
  std::string text = "KVM internal error " + std::to_string(run.internal.suberror) + " (" +
                     suberror_name(run.internal.suberror) + ")";
  if (run.internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
      (run.emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) != 0) {
    uint8_t size = run.emulation_failure.insn_size;
    if (size > sizeof run.emulation_failure.insn_bytes) size = sizeof run.emulation_failure.insn_bytes;
    const std::span<const uint8_t> bytes(run.emulation_failure.insn_bytes, size);
    text += "; instruction bytes:";
    for (uint8_t byte : bytes) text += " " + hex_digits(byte, 2);
    text += instruction_name(bytes, long_mode);
  } else {
    uint32_t count = run.internal.ndata;
    if (count > 16) count = 16;
    if (count > 0) text += "; data:";
    for (uint32_t i = 0; i < count; ++i) text += " " + hex(run.internal.data[i]);
  }
  return text;
}

std::string describe_registers(const kvm_regs& r, const std::optional<kvm_sregs>& sregs) {
  std::string text;
  text += field("rip", r.rip) + field("rsp", r.rsp) + field("rflags", r.rflags) + "\n";
  text += field("rax", r.rax) + field("rbx", r.rbx) + field("rcx", r.rcx) + field("rdx", r.rdx) + "\n";
  text += field("rsi", r.rsi) + field("rdi", r.rdi) + field("rbp", r.rbp) + "\n";
  text += field("r8 ", r.r8) + field("r9 ", r.r9) + field("r10", r.r10) + field("r11", r.r11) + "\n";
  text += field("r12", r.r12) + field("r13", r.r13) + field("r14", r.r14) + field("r15", r.r15) + "\n";
  if (sregs) {
    const auto& s = *sregs;
    text += "  cs " + hex_digits(s.cs.selector, 4) + " (base " + hex_digits(s.cs.base, 1) +
            ", l=" + std::to_string(s.cs.l) + " db=" + std::to_string(s.cs.db) + " dpl=" + std::to_string(s.cs.dpl) +
            ")  ss " + hex_digits(s.ss.selector, 4) + "  ds " + hex_digits(s.ds.selector, 4) + "\n";
    text += "  cr0 " + hex_digits(s.cr0, 1) + "  cr2 " + hex_digits(s.cr2, 1) + "  cr3 " + hex_digits(s.cr3, 1) +
            "  cr4 " + hex_digits(s.cr4, 1) + "  efer " + hex_digits(s.efer, 1) + "\n";
  }
  return text;
}

}  // namespace vmhive
