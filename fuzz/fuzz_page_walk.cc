// Page tables are written by the guest: walking any contents of guest RAM,
// from any CR3, must stay inside guest RAM and end in an address or an error.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "arch/x86/page_walk.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vmhive;
  constexpr uint64_t kRamSize = 64 * 1024;
  if (size < 24) return 0;
  static auto memory = GuestMemory::create({{0, kRamSize}});
  if (!memory.ok()) __builtin_trap();
  uint64_t cr3, linear, cr0_bits;
  std::memcpy(&cr3, data, 8);
  std::memcpy(&linear, data + 8, 8);
  std::memcpy(&cr0_bits, data + 16, 8);
  (void)memory->fill(0, 0, kRamSize);
  (void)memory->write(0, std::span(data + 24, std::min<size_t>(size - 24, kRamSize)));
  x86::PagingState paging{0x80000011 | (cr0_bits & (1u << 16)), cr3 % (2 * kRamSize), 0x20 | (cr0_bits & 0x1000),
                          0xd00};
  auto physical = x86::translate_linear(*memory, paging, linear,
                                        (cr0_bits & 1) ? x86::AccessKind::kWrite : x86::AccessKind::kRead);
  if (physical.ok() && (*physical & 0xfff) != (linear & 0xfff)) __builtin_trap();
  return 0;
}
