#include "arch/x86/instruction_completion.h"

#include <bit>

#include "arch/x86/registers.h"

namespace vmhive::x86 {
namespace {

constexpr uint8_t kOperandSizePrefix = 0x66;
constexpr uint8_t kRepPrefix = 0xf3;

// General registers in the encoding's order (Intel SDM Vol. 2, Table 2-2).
__u64& register_by_number(kvm_regs& regs, unsigned number) {
  switch (number) {
    case 0: return regs.rax;
    case 1: return regs.rcx;
    case 2: return regs.rdx;
    case 3: return regs.rbx;
    case 4: return regs.rsp;
    case 5: return regs.rbp;
    case 6: return regs.rsi;
    case 7: return regs.rdi;
    case 8: return regs.r8;
    case 9: return regs.r9;
    case 10: return regs.r10;
    case 11: return regs.r11;
    case 12: return regs.r12;
    case 13: return regs.r13;
    case 14: return regs.r14;
    default: return regs.r15;
  }
}

// Writes a result of `bits` width the way x86-64 does: a 32-bit write
// zeroes the upper half, a 16-bit write keeps the other bits.
void write_register(__u64& target, uint64_t value, unsigned bits) {
  if (bits == 16) {
    target = (target & ~__u64{0xffff}) | (value & 0xffff);
  } else if (bits == 32) {
    target = value & 0xffffffff;
  } else {
    target = value;
  }
}

uint64_t truncate(uint64_t value, unsigned bits) { return bits == 64 ? value : value & ((uint64_t{1} << bits) - 1); }

// CLAC (0F 01 CA) and STAC (0F 01 CB) clear and set RFLAGS.AC, which with
// CR4.SMAP decides whether ring 0 may touch user pages. Linux brackets every
// user copy with them when CPUID shows SMAP.
std::optional<CompletedInstruction> complete_smap_instruction(std::span<const uint8_t> instruction, kvm_regs& regs) {
  if (instruction.size() < 3 || instruction[0] != 0x0f || instruction[1] != 0x01) return std::nullopt;
  if (instruction[2] == 0xca) {
    regs.rflags &= ~kRflagsAlignmentCheck;
    regs.rip += 3;
    return CompletedInstruction{3, "clac"};
  }
  if (instruction[2] == 0xcb) {
    regs.rflags |= kRflagsAlignmentCheck;
    regs.rip += 3;
    return CompletedInstruction{3, "stac"};
  }
  return std::nullopt;
}

std::optional<CompletedInstruction> complete_popcnt(std::span<const uint8_t> instruction, kvm_regs& regs,
                                                    bool long_mode) {
  // Layout accepted: [66] F3 [REX] 0F B8 ModRM(mod=11).  (Intel SDM: POPCNT)
  size_t at = 0;
  bool operand_size_16 = false;
  if (at < instruction.size() && instruction[at] == kOperandSizePrefix) {
    operand_size_16 = true;
    ++at;
  }
  if (at >= instruction.size() || instruction[at] != kRepPrefix) return std::nullopt;
  ++at;
  uint8_t rex = 0;
  if (long_mode && at < instruction.size() && (instruction[at] & 0xf0) == 0x40) rex = instruction[at++];
  if (at + 3 > instruction.size() || instruction[at] != 0x0f || instruction[at + 1] != 0xb8) return std::nullopt;
  const uint8_t modrm = instruction[at + 2];
  at += 3;
  if ((modrm >> 6) != 3) return std::nullopt;  // a memory operand

  const bool rex_w = (rex & 0x8) != 0;
  const unsigned bits = rex_w ? 64 : operand_size_16 ? 16 : 32;
  const unsigned destination = ((modrm >> 3) & 7) | ((rex & 0x4) ? 8 : 0);
  const unsigned source = (modrm & 7) | ((rex & 0x1) ? 8 : 0);

  const uint64_t value = truncate(register_by_number(regs, source), bits);
  const uint64_t count = static_cast<uint64_t>(std::popcount(value));
  write_register(register_by_number(regs, destination), count, bits);
  // POPCNT sets ZF from the source and clears the other status flags.
  regs.rflags = (regs.rflags & ~kRflagsArithmetic) | (value == 0 ? kRflagsZero : 0);
  regs.rip += at;
  return CompletedInstruction{at, "popcnt"};
}

}  // namespace

std::optional<CompletedInstruction> complete_register_instruction(std::span<const uint8_t> instruction,
                                                                  kvm_regs& regs, bool long_mode,
                                                                  unsigned privilege_level) {
  if (privilege_level == 0) {
    if (auto done = complete_smap_instruction(instruction, regs)) return done;
  }
  return complete_popcnt(instruction, regs, long_mode);
}

}  // namespace vmhive::x86
