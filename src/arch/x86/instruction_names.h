// Naming an x86 instruction from its bytes, for reports: when the host's
// emulator refuses an instruction vmhive cannot complete, the crash report
// shows "instruction bytes: d9 ee (fldz)". Only naming: nothing here
// decides what an instruction does.
//
// The bytes are the guest's, so the decoder is strict and table-driven: it
// knows the x87 escapes (D8-DF, by opcode and ModRM as SDM Vol. 2 Appendix
// A.5 lays them out) and the privileged, system and FPU/XSAVE instructions
// the PVM walls are made of (docs/pvm.md), each in full (prefixes, REX,
// opcode, ModRM, SIB, displacement, immediate) inside `bytes`. Anything else,
// an encoding that is #UD, a REX not right before the opcode, both F2 and
// F3, LOCK where it is not allowed, or bytes that end early, is nullopt.
// Names are the SDM's mnemonics in lower case, with GNU's "64" suffix where
// REX.W selects the 64-bit form of an XSAVE-family instruction (xrstor64).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace vmhive::x86 {

struct NamedInstruction {
  std::string_view name;
  size_t length;  // of the whole instruction, prefixes included
};

// `long_mode` is true for 64-bit code (CS.L = 1): REX prefixes exist and
// addresses are 64-bit. Otherwise the bytes are read as 32-bit code.
std::optional<NamedInstruction> identify_instruction(std::span<const uint8_t> bytes, bool long_mode);

// The name alone.
std::optional<std::string_view> name_instruction(std::span<const uint8_t> bytes, bool long_mode);

}  // namespace vmhive::x86
