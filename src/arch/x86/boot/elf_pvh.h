// ELF kernels with a PVH entry: the Xen ELF note XEN_ELFNOTE_PHYS32_ENTRY
// names a 32-bit protected-mode entry point that takes an hvm_start_info
// (xen/include/public/arch-x86/hvm/start_info.h). Linux's uncompressed
// vmlinux has one, and so do vmhive's test guests. The file is untrusted:
// every offset and size is checked before use.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/result.h"

namespace vmhive::x86::boot {

struct ElfSegment {
  uint64_t file_offset;
  uint64_t file_size;
  uint64_t guest_address;  // p_paddr
  uint64_t memory_size;    // >= file_size; the rest is zeroed
  bool read_only_executable = false;  // PF_X without PF_W: the kernel's text (and what it shares a segment with)
};

struct ElfPvhImage {
  uint32_t entry;  // the PVH entry's physical address
  std::vector<ElfSegment> segments;
  uint64_t end_address;  // one past the highest byte any segment occupies
  bool is_linux = false;  // the Xen note XEN_ELFNOTE_GUEST_OS says "linux"
};

bool looks_like_elf(std::span<const uint8_t> image);

Result<ElfPvhImage> parse_elf_pvh(std::span<const uint8_t> image);

// hvm_start_info and its parts, version 1.
inline constexpr uint32_t kHvmStartMagic = 0x336ec578;

struct [[gnu::packed]] HvmStartInfo {
  uint32_t magic;
  uint32_t version;
  uint32_t flags;
  uint32_t nr_modules;
  uint64_t modlist_paddr;
  uint64_t cmdline_paddr;
  uint64_t rsdp_paddr;
  uint64_t memmap_paddr;
  uint32_t memmap_entries;
  uint32_t reserved;
};
static_assert(sizeof(HvmStartInfo) == 56);

struct [[gnu::packed]] HvmModlistEntry {
  uint64_t paddr;
  uint64_t size;
  uint64_t cmdline_paddr;
  uint64_t reserved;
};
static_assert(sizeof(HvmModlistEntry) == 32);

struct [[gnu::packed]] HvmMemmapEntry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;
  uint32_t reserved;
};
static_assert(sizeof(HvmMemmapEntry) == 24);

}  // namespace vmhive::x86::boot
