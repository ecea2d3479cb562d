// The guest physical address map vmhive gives an x86-64 guest.
//
//   0x0000_0000  RAM (low)          real-mode area; boot structures below
//   0x0009_fc00  reserved           EBDA .. BIOS area, ACPI tables at 0xe0000
//   0x0010_0000  RAM                kernel, initrd, guest memory
//   0xc000_0000  PCI hole (32-bit MMIO: ECAM, BARs, IOAPIC, local APIC)
//   0x1_0000_0000 RAM (high)        what did not fit below the hole
#pragma once

#include <cstdint>
#include <vector>

#include "memory/guest_memory.h"

namespace vmhive::x86 {

// Boot structures in low memory (all below 0x9fc00).
inline constexpr uint64_t kBootGdtAddress = 0x500;          // flat GDT for either entry
inline constexpr uint64_t kBootIdtAddress = 0x520;          // empty IDT
inline constexpr uint64_t kPvhStartInfoAddress = 0x6000;    // hvm_start_info
inline constexpr uint64_t kPvhMemmapAddress = 0x6040;       // hvm_memmap_table_entry[]
inline constexpr uint64_t kPvhMemmapMaxEntries = 64;
inline constexpr uint64_t kZeroPageAddress = 0x7000;        // boot_params (bzImage)
inline constexpr uint64_t kPml4Address = 0x9000;            // identity map for bzImage 64-bit entry
inline constexpr uint64_t kPdptAddress = 0xa000;
inline constexpr uint64_t kPdAddress = 0xb000;              // 4 pages: 0..4 GiB in 2 MiB pages
inline constexpr uint64_t kBootStackTop = 0x8ff0;
inline constexpr uint64_t kCmdlineAddress = 0x20000;
inline constexpr uint64_t kCmdlineMaxSize = 0x10000;        // bytes including the NUL

inline constexpr uint64_t kEbdaStart = 0x9fc00;
inline constexpr uint64_t kAcpiTablesAddress = 0xe0000;     // RSDP first, then the tables
inline constexpr uint64_t kAcpiTablesMaxSize = 0x20000;
inline constexpr uint64_t kHighMemoryStart = 0x100000;      // 1 MiB

inline constexpr uint64_t kPciHoleStart = 0xc0000000;       // 3 GiB
inline constexpr uint64_t kPciHoleEnd = 0x100000000;        // 4 GiB
inline constexpr uint64_t kPciMmioWindowStart = 0xc0000000;  // 32-bit BARs
inline constexpr uint64_t kPciMmioWindowEnd = 0xe0000000;
inline constexpr uint64_t kPciEcamAddress = 0xe0000000;      // bus 0 only: 1 MiB
inline constexpr uint64_t kPciEcamSize = 0x100000;
inline constexpr uint64_t kIoApicAddress = 0xfec00000;
inline constexpr uint64_t kLocalApicAddress = 0xfee00000;

// Guest RAM for a VM of `memory_size` bytes: below the PCI hole first, the
// rest above 4 GiB. The first region starts at 0 (the hole at 640 KiB-1 MiB
// is RAM the VMM owns but reports as reserved in e820).
std::vector<MemoryRegion> ram_regions(uint64_t memory_size);

enum class E820Type : uint32_t { kRam = 1, kReserved = 2, kAcpi = 3, kNvs = 4 };

struct E820Entry {
  uint64_t address;
  uint64_t size;
  E820Type type;
};

// The memory map the guest sees (both through the zero page and PVH's memmap).
std::vector<E820Entry> e820_map(uint64_t memory_size);

// Highest RAM address + 1 below 4 GiB: where an initrd must end.
uint64_t low_ram_end(uint64_t memory_size);

}  // namespace vmhive::x86
