#include "arch/x86/software_exception.h"

namespace vmhive::x86 {

std::optional<SoftwareException> decode_software_exception(std::span<const uint8_t> instruction) {
  if (instruction.empty()) return std::nullopt;
  switch (instruction[0]) {
    case 0xcc: return SoftwareException{kVectorBreakpoint, 1, "int3"};
    case 0xf1: return SoftwareException{kVectorDebug, 1, "int1"};
    case 0xcd:  // INT imm8: only INT 3, which behaves as INT3 for an exception handler
      if (instruction.size() >= 2 && instruction[1] == kVectorBreakpoint) {
        return SoftwareException{kVectorBreakpoint, 2, "int $3"};
      }
      return std::nullopt;
    case 0x0f:
      if (instruction.size() >= 2 && instruction[1] == 0x0b) return SoftwareException{kVectorInvalidOpcode, 0, "ud2"};
      return std::nullopt;
    default: return std::nullopt;
  }
}

}  // namespace vmhive::x86
