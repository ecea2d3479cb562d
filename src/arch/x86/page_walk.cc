#include "arch/x86/page_walk.h"

#include <algorithm>
#include <string>

#include "arch/x86/registers.h"
#include "common/hex.h"

namespace vmhive::x86 {

Result<uint64_t> translate_linear(const GuestMemory& memory, const PagingState& paging, uint64_t linear,
                                  AccessKind access) {
  if ((paging.cr0 & kCr0Paging) == 0) return linear;
  if ((paging.efer & kEferLongModeActive) == 0) return make_error("page walk: only long-mode paging is supported");
  if (paging.cr4 & kCr4FiveLevelPaging) return make_error("page walk: 5-level paging is not supported");
  // Canonical: bits 63:47 all equal.
  const uint64_t upper = linear >> 47;
  if (upper != 0 && upper != 0x1ffff) return make_error("page walk: " + hex(linear) + " is not canonical");

  uint64_t table = paging.cr3 & kPteAddressMask;
  bool writable = true;
  // Levels: PML4 (bits 47:39), PDPT (38:30), PD (29:21), PT (20:12).
  for (int level = 3; level >= 0; --level) {
    const unsigned shift = 12 + 9 * static_cast<unsigned>(level);
    const uint64_t index = (linear >> shift) & 0x1ff;
    auto entry = memory.read_obj<uint64_t>(table + index * 8);
    if (!entry.ok()) return make_error("page walk: a page-table entry for " + hex(linear) + " is outside guest RAM");
    if ((*entry & kPtePresent) == 0) return make_error("page walk: " + hex(linear) + " is not mapped");
    writable = writable && (*entry & kPteWritable) != 0;
    const bool leaf = level == 0 || ((level == 1 || level == 2) && (*entry & kPteLargePage) != 0);
    if (!leaf) {
      table = *entry & kPteAddressMask;
      continue;
    }
    if (access == AccessKind::kWrite && !writable && (paging.cr0 & kCr0WriteProtect)) {
      return make_error("page walk: " + hex(linear) + " is read-only");
    }
    const uint64_t page_mask = (1ull << shift) - 1;
    return ((*entry & kPteAddressMask) & ~page_mask) | (linear & page_mask);
  }
  return make_error("page walk: unreachable");
}

namespace {

constexpr uint64_t kPageSize = 4096;

// Splits [linear, linear + size) at 4 KiB boundaries (the smallest page),
// translating each piece on its own.
template <class Span, class Access>
Result<void> access_by_page(const GuestMemory& memory, const PagingState& paging, uint64_t linear, Span data,
                            AccessKind kind, Access access) {
  size_t done = 0;
  while (done < data.size()) {
    const uint64_t address = linear + done;
    const size_t in_page = static_cast<size_t>(kPageSize - (address % kPageSize));
    const size_t chunk = std::min(in_page, data.size() - done);
    const uint64_t physical = VMHIVE_TRY(translate_linear(memory, paging, address, kind));
    VMHIVE_CHECK(access(physical, data.subspan(done, chunk)));
    done += chunk;
  }
  return {};
}

}  // namespace

Result<void> read_linear(const GuestMemory& memory, const PagingState& paging, uint64_t linear,
                         std::span<uint8_t> data) {
  return access_by_page(memory, paging, linear, data, AccessKind::kRead,
                        [&](uint64_t physical, std::span<uint8_t> piece) { return memory.read(physical, piece); });
}

Result<void> write_linear(const GuestMemory& memory, const PagingState& paging, uint64_t linear,
                          std::span<const uint8_t> data) {
  return access_by_page(
      memory, paging, linear, data, AccessKind::kWrite,
      [&](uint64_t physical, std::span<const uint8_t> piece) { return memory.write(physical, piece); });
}

}  // namespace vmhive::x86
