// Translating a guest's linear address to a guest-physical one by walking
// its page tables, as the CPU would: what vmhive needs to carry out an
// instruction with a memory operand that the host's emulator refused.
// The tables live in guest RAM and are the guest's to write, so every entry
// is read through GuestMemory's checked accessors.
#pragma once

#include <cstdint>
#include <span>

#include "common/result.h"
#include "memory/guest_memory.h"

namespace vmhive::x86 {

struct PagingState {
  uint64_t cr0;
  uint64_t cr3;
  uint64_t cr4;
  uint64_t efer;
};

enum class AccessKind { kRead, kWrite };

// The guest-physical address of `linear`. Supports paging off and 4-level
// long-mode paging (4 KiB, 2 MiB and 1 GiB pages); a write to a read-only
// page is refused when CR0.WP is set (we only act for ring 0). Fails on a
// non-present entry, a reserved mode (32-bit paging, LA57) or an entry
// outside guest RAM; the caller then stops the VM rather than guess.
Result<uint64_t> translate_linear(const GuestMemory& memory, const PagingState& paging, uint64_t linear,
                                  AccessKind access);

// Reads or writes `data` at `linear`, page by page through translate_linear,
// so an operand that straddles two pages goes through both translations.
Result<void> read_linear(const GuestMemory& memory, const PagingState& paging, uint64_t linear,
                         std::span<uint8_t> data);
Result<void> write_linear(const GuestMemory& memory, const PagingState& paging, uint64_t linear,
                          std::span<const uint8_t> data);

}  // namespace vmhive::x86
