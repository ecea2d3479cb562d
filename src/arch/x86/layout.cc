#include "arch/x86/layout.h"

#include <algorithm>

namespace vmhive::x86 {

std::vector<MemoryRegion> ram_regions(uint64_t memory_size) {
  std::vector<MemoryRegion> regions;
  uint64_t below_hole = std::min(memory_size, kPciHoleStart);
  regions.push_back({0, below_hole});
  if (memory_size > kPciHoleStart) regions.push_back({kPciHoleEnd, memory_size - kPciHoleStart});
  return regions;
}

std::vector<E820Entry> e820_map(uint64_t memory_size) {
  std::vector<E820Entry> map;
  map.push_back({0, kEbdaStart, E820Type::kRam});
  map.push_back({kEbdaStart, kHighMemoryStart - kEbdaStart, E820Type::kReserved});
  uint64_t low_end = low_ram_end(memory_size);
  if (low_end > kHighMemoryStart)
    map.push_back({kHighMemoryStart, low_end - kHighMemoryStart, E820Type::kRam});
  if (memory_size > kPciHoleStart)
    map.push_back({kPciHoleEnd, memory_size - kPciHoleStart, E820Type::kRam});
  return map;
}

uint64_t low_ram_end(uint64_t memory_size) { return std::min(memory_size, kPciHoleStart); }

}  // namespace vmhive::x86
