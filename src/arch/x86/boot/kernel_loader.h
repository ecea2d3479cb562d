// Loads a guest kernel into RAM and writes what it needs to start: a
// bzImage through the Linux boot protocol (64-bit entry, zero page), or an
// ELF with a PVH note (32-bit entry, hvm_start_info). The format is told by
// the file's first bytes, not its name.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "memory/guest_memory.h"
#include "memory/guest_range.h"

namespace vmhive::x86 {

enum class EntryMode { kPvh32, kLinux64 };

struct BootConfig {
  std::string kernel_path;
  std::string initrd_path;  // empty: none
  std::string cmdline;
  uint64_t memory_size;   // bytes of guest RAM (e820_map(memory_size) describes it)
  uint64_t rsdp_address;  // ACPI RSDP guest address (0: none)
  // Appended to the command line when the kernel is Linux (a bzImage whose
  // setup header points at Linux's version string, boot::linux_version_string;
  // or an ELF whose Xen GUEST_OS note says "linux"): what the CPU template
  // needs. When the two do not fit the kernel's limit together, the kernel
  // gets `cmdline` alone and BootEntry::warnings says so.
  std::string linux_extra_args;
};

struct BootEntry {
  EntryMode mode;
  uint64_t entry_point;        // guest-physical RIP
  uint64_t boot_info_address;  // PVH: hvm_start_info (RBX); Linux64: zero page (RSI)
  // What the loader did differently from what was asked, one line each, for
  // the caller to show the user ("vmhive: warning: <line>"). The VM boots.
  std::vector<std::string> warnings;
  // The kernel's text: its read-only executable segments, whole pages (an
  // ELF kernel's; a bzImage says nothing and this is empty). What
  // --write-protect-text protects.
  std::vector<GuestRange> text;
};

Result<BootEntry> load_kernel(const GuestMemory& memory, const BootConfig& config);

}  // namespace vmhive::x86
