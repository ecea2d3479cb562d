// Carrying out, in user space, instructions a host's emulator refuses but
// whose effect is plain arithmetic on registers. KVM-PVM emulates a non-PVM
// guest's ring 0 and cannot run POPCNT (Linux patches it into its hweight
// helpers) or CLAC/STAC (around every user copy), which Linux uses because
// CPUID says the CPU has them, and PVM does not let a VMM hide those bits.
// Only instructions whose caller must be in ring 0 or that any ring may run
// are here: the emulation failure already came from ring 0.
//
// The bytes are the guest's, so the decoder is strict: one of the
// encodings below, in full, or nothing. Memory operands are not handled
// here; the caller stops the VM for those.
#pragma once

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace vmhive::x86 {

// What was carried out: the instruction's length (RIP has moved past it).
struct CompletedInstruction {
  size_t length;
  const char* mnemonic;
};

// Decodes `instruction` and, if it is a supported register-only form,
// applies it to `regs` (destination, RFLAGS, RIP). Leaves `regs` untouched
// otherwise. `long_mode` says whether REX prefixes exist (64-bit code);
// CLAC/STAC are only carried out at privilege level 0 (elsewhere they #UD,
// which is not ours to fake).
std::optional<CompletedInstruction> complete_register_instruction(std::span<const uint8_t> instruction,
                                                                  kvm_regs& regs, bool long_mode,
                                                                  unsigned privilege_level = 0);

}  // namespace vmhive::x86
