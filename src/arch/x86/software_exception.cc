#include "arch/x86/software_exception.h"

#include "arch/x86/registers.h"

namespace vmhive::x86 {

std::optional<SoftwareException> decode_software_exception(std::span<const uint8_t> instruction) {
  if (instruction.empty()) return std::nullopt;
  switch (instruction[0]) {
    case 0xcc: return SoftwareException{kVectorBreakpoint, 1, 1, "int3"};
    case 0xf1: return SoftwareException{kVectorDebug, 1, 1, "int1"};
    case 0xcd:  // INT imm8: only INT 3, which behaves as INT3 for an exception handler
      if (instruction.size() >= 2 && instruction[1] == kVectorBreakpoint) {
        return SoftwareException{kVectorBreakpoint, 2, 2, "int $3"};
      }
      return std::nullopt;
    case 0x0f:
      if (instruction.size() >= 2 && instruction[1] == 0x0b) return SoftwareException{kVectorInvalidOpcode, 0, 2, "ud2"};
      return std::nullopt;
    default: return std::nullopt;
  }
}

std::optional<SoftwareException> decode_fwait(std::span<const uint8_t> instruction, uint64_t cr0,
                                              uint16_t fpu_status_word) {
  if (instruction.empty() || instruction[0] != 0x9b) return std::nullopt;
  if ((cr0 & kCr0MonitorCoprocessor) && (cr0 & kCr0TaskSwitched)) {
    return SoftwareException{kVectorDeviceNotAvailable, 0, 1, "fwait"};
  }
  if (fpu_status_word & kFswErrorSummary) return SoftwareException{kVectorX87Error, 0, 1, "fwait"};
  return SoftwareException{0, 1, 1, "fwait"};
}

}  // namespace vmhive::x86
