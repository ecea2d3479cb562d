// Instructions whose only effect is to raise an exception (INT3, INT1, UD2)
// and which a host's instruction emulator may refuse: KVM-PVM emulates a
// non-PVM guest's ring 0 and reports INT3 as an emulation failure. vmhive
// completes them by injecting the exception they would have raised.
//
// The bytes come from the guest (KVM copies them from guest memory), so the
// decoder is strict: it recognises exactly these encodings at the start of
// the buffer, with no prefixes, and nothing else.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace vmhive::x86 {

struct SoftwareException {
  uint8_t vector;
  // Bytes to step RIP past before delivery: a trap reports the address
  // after the instruction (INT3, INT1), a fault the instruction itself (UD2).
  uint8_t rip_advance;
  uint8_t length;  // of the instruction
  const char* mnemonic;
};

inline constexpr uint8_t kVectorDebug = 1;
inline constexpr uint8_t kVectorBreakpoint = 3;
inline constexpr uint8_t kVectorInvalidOpcode = 6;

std::optional<SoftwareException> decode_software_exception(std::span<const uint8_t> instruction);

inline constexpr uint8_t kVectorDeviceNotAvailable = 7;
inline constexpr uint8_t kVectorX87Error = 16;

// FWAIT (9B) waits for the x87 unit: it raises #NM when CR0.MP and CR0.TS
// are both set, #MF when the status word shows an unmasked exception
// (FSW.ES), and otherwise does nothing. The result says which; a
// SoftwareException with vector 0 means "nothing: step past it".
std::optional<SoftwareException> decode_fwait(std::span<const uint8_t> instruction, uint64_t cr0,
                                              uint16_t fpu_status_word);

}  // namespace vmhive::x86
