// An ELF kernel is a user's file: the parser must check every offset and
// size, and whatever it accepts must lie inside the file.
#include <cstddef>
#include <cstdint>
#include <span>

#include "arch/x86/boot/elf_pvh.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vmhive::x86::boot;
  std::span<const uint8_t> image(data, size);
  auto parsed = parse_elf_pvh(image);
  if (!parsed.ok()) return 0;
  for (const auto& segment : parsed->segments) {
    if (segment.file_offset > size || segment.file_size > size - segment.file_offset) __builtin_trap();
    if (segment.memory_size < segment.file_size) __builtin_trap();
    // Touch the bytes the loader would copy, so ASan sees any overrun.
    volatile uint8_t sink = 0;
    for (uint64_t i = 0; i < segment.file_size; i += 4096) sink = sink ^ image[segment.file_offset + i];
  }
  return 0;
}
