// Loads a guest kernel into RAM and writes what it needs to start: a
// bzImage through the Linux boot protocol (64-bit entry, zero page), or an
// ELF with a PVH note (32-bit entry, hvm_start_info). The format is told by
// the file's first bytes, not its name.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "memory/guest_memory.h"

namespace vmhive::x86 {

enum class EntryMode { kPvh32, kLinux64 };

struct BootConfig {
  std::string kernel_path;
  std::string initrd_path;  // empty: none
  std::string cmdline;
  uint64_t memory_size;   // bytes of guest RAM (e820_map(memory_size) describes it)
  uint64_t rsdp_address;  // ACPI RSDP guest address (0: none)
  // Appended to the command line when the kernel is Linux (a bzImage, or an
  // ELF whose Xen GUEST_OS note says "linux"): what the CPU template needs.
  std::string linux_extra_args;
};

struct BootEntry {
  EntryMode mode;
  uint64_t entry_point;        // guest-physical RIP
  uint64_t boot_info_address;  // PVH: hvm_start_info (RBX); Linux64: zero page (RSI)
};

Result<BootEntry> load_kernel(const GuestMemory& memory, const BootConfig& config);

}  // namespace vmhive::x86
