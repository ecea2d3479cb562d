// Instruction bytes come from guest memory: the decoders that complete
// emulation failures must accept only what they understand and never touch
// more than the registers they decode; the namer the crash report uses must
// name only whole instructions inside the bytes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "arch/x86/instruction_completion.h"
#include "arch/x86/instruction_names.h"
#include "arch/x86/memory_operand.h"
#include "arch/x86/software_exception.h"
#include "arch/x86/syscall_semantics.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  auto exception = vmhive::x86::decode_software_exception(bytes);
  if (exception && exception->rip_advance > size) __builtin_trap();
  auto wait = vmhive::x86::decode_fwait(bytes, size > 0 ? data[0] : 0, static_cast<uint16_t>(size));
  if (wait && wait->rip_advance > size) __builtin_trap();
  for (bool long_mode : {false, true}) {
    kvm_regs regs{};
    std::memset(&regs, 0x5a, sizeof regs);
    const kvm_regs before = regs;
    auto completed = vmhive::x86::complete_register_instruction(bytes, regs, long_mode);
    if (!completed && std::memcmp(&regs, &before, sizeof regs) != 0) __builtin_trap();
    if (completed && (completed->length > size || regs.rip != before.rip + completed->length)) __builtin_trap();
  }
  for (bool long_mode : {false, true}) {
    auto named = vmhive::x86::identify_instruction(bytes, long_mode);
    if (named && (named->name.empty() || named->length == 0 || named->length > size || named->length > 15)) {
      __builtin_trap();
    }
    if (vmhive::x86::name_instruction(bytes, long_mode) != (named ? std::optional(named->name) : std::nullopt)) {
      __builtin_trap();
    }
  }
  for (auto address_size : {vmhive::x86::AddressSize::k16, vmhive::x86::AddressSize::k32,
                            vmhive::x86::AddressSize::k64}) {
    auto operand = vmhive::x86::decode_modrm(bytes, address_size);
    if (operand && (operand->length == 0 || operand->length > size)) __builtin_trap();
  }
  kvm_regs regs{};
  kvm_sregs sregs{};
  sregs.cs.l = 1;
  auto memory = vmhive::x86::decode_0f_memory_instruction(bytes, regs, sregs);
  if (memory && memory->length > size) __builtin_trap();
  // SYSRET: only ever changes state when it says it completed.
  std::memset(&regs, 0xa5, sizeof regs);
  const kvm_regs regs_before = regs;
  const kvm_sregs sregs_before = sregs;
  auto sysret = vmhive::x86::complete_sysret(bytes, 0x0023001000000000, regs, sregs);
  if (sysret != vmhive::x86::SysretResult::kCompleted &&
      (std::memcmp(&regs, &regs_before, sizeof regs) != 0 || std::memcmp(&sregs, &sregs_before, sizeof sregs) != 0)) {
    __builtin_trap();
  }
  if (sysret == vmhive::x86::SysretResult::kCompleted && (sregs.cs.selector & 3) != 3) __builtin_trap();
  return 0;
}
