#include "arch/x86/memory_operand.h"

#include <cstring>

namespace vmhive::x86 {
namespace {

uint64_t register_value(const kvm_regs& regs, unsigned number) {
  const __u64 values[16] = {regs.rax, regs.rcx, regs.rdx, regs.rbx, regs.rsp, regs.rbp, regs.rsi, regs.rdi,
                            regs.r8,  regs.r9,  regs.r10, regs.r11, regs.r12, regs.r13, regs.r14, regs.r15};
  return values[number & 15];
}

// A little-endian signed displacement of `size` (1 or 4) bytes.
int64_t displacement(std::span<const uint8_t> bytes, size_t at, size_t size) {
  if (size == 1) return static_cast<int8_t>(bytes[at]);
  int32_t value;
  std::memcpy(&value, bytes.data() + at, sizeof value);
  return value;
}

}  // namespace

std::optional<ModrmOperand> decode_modrm(std::span<const uint8_t> bytes, AddressSize address_size) {
  if (bytes.empty()) return std::nullopt;
  const uint8_t modrm = bytes[0];
  ModrmOperand operand{static_cast<uint8_t>(modrm >> 6), static_cast<uint8_t>((modrm >> 3) & 7),
                       static_cast<uint8_t>(modrm & 7), std::nullopt, 0, 1};
  if (operand.mod == 3) return operand;  // a register: nothing follows
  if (address_size == AddressSize::k16) {
    // [bx+si] .. [bx]; mod 00 rm 110 is a bare disp16.
    operand.displacement_size = operand.mod == 1 ? 1 : operand.mod == 2 || operand.rm == 6 ? 2 : 0;
  } else {
    operand.displacement_size = operand.mod == 1 ? 1 : operand.mod == 2 ? 4 : 0;
    if (operand.rm == 4) {  // SIB follows
      if (bytes.size() < 2) return std::nullopt;
      operand.sib = bytes[1];
      operand.length = 2;
      if ((bytes[1] & 7) == 5 && operand.mod == 0) operand.displacement_size = 4;  // no base, disp32
    } else if (operand.rm == 5 && operand.mod == 0) {
      operand.displacement_size = 4;  // RIP-relative in 64-bit code, absolute otherwise
    }
  }
  operand.length += operand.displacement_size;
  if (operand.length > bytes.size()) return std::nullopt;
  return operand;
}

std::optional<MemoryInstruction> decode_0f_memory_instruction(std::span<const uint8_t> bytes, const kvm_regs& regs,
                                                              const kvm_sregs& sregs) {
  if (sregs.cs.l == 0) return std::nullopt;  // 64-bit code only
  size_t at = 0;
  uint64_t segment_base = 0;
  bool address_32 = false;
  // Legacy prefixes we understand, in any order, at most one of each kind.
  for (bool more = true; more && at < bytes.size();) {
    switch (bytes[at]) {
      case 0x64: segment_base = sregs.fs.base; ++at; break;
      case 0x65: segment_base = sregs.gs.base; ++at; break;
      case 0x67:
        if (address_32) return std::nullopt;
        address_32 = true;
        ++at;
        break;
      default: more = false;
    }
    if (at > 4) return std::nullopt;
  }
  uint8_t rex = 0;
  if (at < bytes.size() && (bytes[at] & 0xf0) == 0x40) rex = bytes[at++];
  if (at + 3 > bytes.size() || bytes[at] != 0x0f) return std::nullopt;
  const uint8_t opcode = bytes[at + 1];
  at += 2;
  const auto operand = decode_modrm(bytes.subspan(at), address_32 ? AddressSize::k32 : AddressSize::k64);
  if (!operand || operand->mod == 3) return std::nullopt;

  uint64_t address = 0;
  bool rip_relative = false;
  if (operand->sib) {
    const uint8_t sib = *operand->sib;
    const unsigned scale = sib >> 6, index = ((sib >> 3) & 7) | ((rex & 0x2) ? 8 : 0);
    const unsigned base = (sib & 7) | ((rex & 0x1) ? 8 : 0);
    if (index != 4) address += register_value(regs, index) << scale;  // index 4 (RSP) means none
    if ((sib & 7) != 5 || operand->mod != 0) address += register_value(regs, base);
  } else if (operand->rm == 5 && operand->mod == 0) {
    rip_relative = true;
  } else {
    address = register_value(regs, operand->rm | ((rex & 0x1) ? 8u : 0u));
  }
  if (operand->displacement_size != 0) {
    address += static_cast<uint64_t>(displacement(bytes, at + operand->length - operand->displacement_size,
                                                  operand->displacement_size));
  }
  at += operand->length;
  if (rip_relative) address += regs.rip + at;
  if (address_32) address &= 0xffffffffull;
  address += segment_base;
  return MemoryInstruction{opcode, operand->reg, address, at};
}

}  // namespace vmhive::x86
