// The Linux/x86 boot protocol's data structures (Documentation/arch/x86/
// boot.rst and zero-page.rst): the setup header inside a bzImage, and the
// zero page ("boot_params") the loader hands the kernel. Only the fields a
// 64-bit entry uses are named; the rest stays zero.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vmhive::x86::boot {

// Offsets into the image and the zero page alike (the header is copied over).
inline constexpr size_t kSetupHeaderOffset = 0x1f1;
inline constexpr size_t kSetupHeaderEnd = 0x26c;  // through kernel_info_offset (protocol 2.15)

struct [[gnu::packed]] SetupHeader {
  uint8_t setup_sects;
  uint16_t root_flags;
  uint32_t syssize;  // the protected-mode kernel's size in 16-byte paragraphs
  uint16_t ram_size;
  uint16_t vid_mode;
  uint16_t root_dev;
  uint16_t boot_flag;  // 0xaa55
  uint16_t jump;
  uint32_t header;  // "HdrS"
  uint16_t version;
  uint32_t realmode_swtch;
  uint16_t start_sys_seg;
  uint16_t kernel_version;
  uint8_t type_of_loader;
  uint8_t loadflags;
  uint16_t setup_move_size;
  uint32_t code32_start;
  uint32_t ramdisk_image;
  uint32_t ramdisk_size;
  uint32_t bootsect_kludge;
  uint16_t heap_end_ptr;
  uint8_t ext_loader_ver;
  uint8_t ext_loader_type;
  uint32_t cmd_line_ptr;
  uint32_t initrd_addr_max;
  uint32_t kernel_alignment;
  uint8_t relocatable_kernel;
  uint8_t min_alignment;
  uint16_t xloadflags;
  uint32_t cmdline_size;
  uint32_t hardware_subarch;
  uint64_t hardware_subarch_data;
  uint32_t payload_offset;
  uint32_t payload_length;
  uint64_t setup_data;
  uint64_t pref_address;
  uint32_t init_size;
  uint32_t handover_offset;
  uint32_t kernel_info_offset;
};
static_assert(sizeof(SetupHeader) == kSetupHeaderEnd - kSetupHeaderOffset);
static_assert(offsetof(SetupHeader, header) == 0x202 - kSetupHeaderOffset);
static_assert(offsetof(SetupHeader, xloadflags) == 0x236 - kSetupHeaderOffset);
static_assert(offsetof(SetupHeader, pref_address) == 0x258 - kSetupHeaderOffset);

inline constexpr uint16_t kBootFlag = 0xaa55;
inline constexpr uint32_t kHeaderMagic = 0x53726448;  // "HdrS"
inline constexpr uint8_t kLoadedHigh = 1u << 0;
inline constexpr uint8_t kCanUseHeap = 1u << 7;
inline constexpr uint16_t kXlfKernel64 = 1u << 0;  // a 64-bit entry at load address + 0x200
inline constexpr uint8_t kUndefinedLoader = 0xff;

struct [[gnu::packed]] E820Record {
  uint64_t address;
  uint64_t size;
  uint32_t type;
};
static_assert(sizeof(E820Record) == 20);

inline constexpr size_t kE820MaxEntries = 128;

// struct boot_params, 4 KiB.
struct [[gnu::packed]] BootParams {
  uint8_t screen_info_to_tboot[0x070];
  uint64_t acpi_rsdp_addr;  // 0x070
  uint8_t pad_to_ext_ramdisk[0x0c0 - 0x078];
  uint32_t ext_ramdisk_image;  // 0x0c0: bits 63:32 of ramdisk_image
  uint32_t ext_ramdisk_size;   // 0x0c4
  uint32_t ext_cmd_line_ptr;   // 0x0c8
  uint8_t pad_to_e820_entries[0x1e8 - 0x0cc];
  uint8_t e820_entries;  // 0x1e8
  uint8_t pad_to_header[kSetupHeaderOffset - 0x1e9];
  SetupHeader header;  // 0x1f1
  uint8_t pad_to_e820_table[0x2d0 - kSetupHeaderEnd];
  E820Record e820_table[kE820MaxEntries];  // 0x2d0
  uint8_t pad_to_end[0x1000 - 0x2d0 - kE820MaxEntries * sizeof(E820Record)];
};
static_assert(sizeof(BootParams) == 0x1000);
static_assert(offsetof(BootParams, acpi_rsdp_addr) == 0x070);
static_assert(offsetof(BootParams, ext_ramdisk_image) == 0x0c0);
static_assert(offsetof(BootParams, e820_entries) == 0x1e8);
static_assert(offsetof(BootParams, header) == 0x1f1);
static_assert(offsetof(BootParams, e820_table) == 0x2d0);

}  // namespace vmhive::x86::boot
