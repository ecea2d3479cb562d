#include "vmm/crash_report.h"

#include <cinttypes>
#include <cstdarg>
#include <cstdio>

namespace vmhive {
namespace {

__attribute__((format(printf, 1, 2))) std::string format(const char* fmt, ...) {
  char buffer[256];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buffer, sizeof buffer, fmt, args);
  va_end(args);
  return buffer;
}

const char* suberror_name(uint32_t suberror) {
  switch (suberror) {
    case KVM_INTERNAL_ERROR_EMULATION: return "instruction emulation failed";
    case KVM_INTERNAL_ERROR_SIMUL_EX: return "exception while delivering an exception";
    case KVM_INTERNAL_ERROR_DELIVERY_EV: return "exception during event delivery";
    case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON: return "unexpected hardware exit";
    default: return "internal error";
  }
}

}  // namespace

std::string describe_internal_error(const kvm_run& run) {
  std::string text = format("KVM internal error %u (%s)", run.internal.suberror, suberror_name(run.internal.suberror));
  if (run.internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
      (run.emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) != 0) {
    uint8_t size = run.emulation_failure.insn_size;
    if (size > sizeof run.emulation_failure.insn_bytes) size = sizeof run.emulation_failure.insn_bytes;
    text += "; instruction bytes:";
    for (uint8_t i = 0; i < size; ++i) text += format(" %02x", run.emulation_failure.insn_bytes[i]);
  } else {
    uint32_t count = run.internal.ndata;
    if (count > 16) count = 16;
    if (count > 0) text += "; data:";
    for (uint32_t i = 0; i < count; ++i) text += format(" 0x%" PRIx64, static_cast<uint64_t>(run.internal.data[i]));
  }
  return text;
}

std::string describe_registers(const kvm_regs& r, const std::optional<kvm_sregs>& sregs) {
  std::string text;
  text += format("  rip %016llx  rsp %016llx  rflags %016llx\n", r.rip, r.rsp, r.rflags);
  text += format("  rax %016llx  rbx %016llx  rcx %016llx  rdx %016llx\n", r.rax, r.rbx, r.rcx, r.rdx);
  text += format("  rsi %016llx  rdi %016llx  rbp %016llx\n", r.rsi, r.rdi, r.rbp);
  text += format("  r8  %016llx  r9  %016llx  r10 %016llx  r11 %016llx\n", r.r8, r.r9, r.r10, r.r11);
  text += format("  r12 %016llx  r13 %016llx  r14 %016llx  r15 %016llx\n", r.r12, r.r13, r.r14, r.r15);
  if (sregs) {
    const auto& s = *sregs;
    text += format("  cs %04x (base %llx, l=%u db=%u dpl=%u)  ss %04x  ds %04x\n", s.cs.selector, s.cs.base, s.cs.l,
                   s.cs.db, s.cs.dpl, s.ss.selector, s.ds.selector);
    text += format("  cr0 %llx  cr2 %llx  cr3 %llx  cr4 %llx  efer %llx\n", s.cr0, s.cr2, s.cr3, s.cr4, s.efer);
  }
  return text;
}

}  // namespace vmhive
