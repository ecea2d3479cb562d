// Decoding the memory operand of a 64-bit-mode instruction from the bytes
// KVM reports with an emulation failure: legacy prefixes, REX, a two-byte
// opcode, ModRM, SIB and displacement, turned into a linear address.
// The bytes are the guest's: anything outside the forms below is refused.
#pragma once

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace vmhive::x86 {

enum class AddressSize { k16, k32, k64 };

// The operand bytes that follow an opcode taking ModRM: the ModRM byte, a
// SIB byte and a displacement as ModRM says (SDM Vol. 2 §2.1.5, Tables
// 2-1 to 2-3; 16-bit addressing has no SIB). Fields are without REX.
struct ModrmOperand {
  uint8_t mod;
  uint8_t reg;
  uint8_t rm;
  std::optional<uint8_t> sib;
  size_t displacement_size;  // 0, 1, 2 or 4
  size_t length;             // ModRM + SIB + displacement
};

// Decodes the ModRM operand at the start of `bytes`; nullopt when the bytes
// end before what ModRM says follows it.
std::optional<ModrmOperand> decode_modrm(std::span<const uint8_t> bytes, AddressSize address_size);

struct MemoryInstruction {
  uint8_t opcode;          // the byte after 0F
  uint8_t reg;             // ModRM.reg (the /digit of group opcodes), without REX.R
  uint64_t linear_address;
  size_t length;           // of the whole instruction
};

// Decodes [FS/GS override] [67] [REX] 0F <opcode> ModRM(mod != 11) [SIB]
// [disp8/disp32], with RIP-relative and SIB addressing, for 64-bit code.
// Other prefixes (66, F2, F3, LOCK) make it refuse: the instructions vmhive
// completes this way take none.
std::optional<MemoryInstruction> decode_0f_memory_instruction(std::span<const uint8_t> bytes, const kvm_regs& regs,
                                                              const kvm_sregs& sregs);

}  // namespace vmhive::x86
