// Parsing a bzImage (the Linux/x86 boot protocol) and writing its zero page.
// The image is untrusted input: every field is checked against the file.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "arch/x86/boot/boot_params.h"
#include "arch/x86/layout.h"
#include "common/result.h"

namespace vmhive::x86::boot {

// Protocol 2.12 brought xloadflags, which says whether a 64-bit entry exists.
inline constexpr uint16_t kMinimumProtocol = 0x020c;
inline constexpr uint64_t kDefaultLoadAddress = 0x1000000;  // 16 MiB, Linux's usual LOAD_PHYSICAL_ADDR

struct BzImage {
  SetupHeader header;           // as found in the image
  size_t kernel_offset;         // where the protected-mode kernel starts in the file
  size_t kernel_size;           // the bytes of it the file holds (what is copied)
  // syssize * 16: what the header declares. It may round up past the end of
  // the file by less than one 16-byte unit, as GRUB and QEMU accept; the
  // bytes from kernel_size to here are zero in guest memory.
  uint64_t kernel_declared_size;
  uint64_t load_address;        // where it goes in guest memory
  uint64_t memory_needed;       // from load_address: what it may use while it decompresses (init_size)
};

bool looks_like_bzimage(std::span<const uint8_t> image);

// Validates the setup header and works out where the kernel goes. A file
// short of what syssize declares by 16 bytes or more is truncated.
Result<BzImage> parse_bzimage(std::span<const uint8_t> image);

// What the zero page carries besides the header.
struct ZeroPageInputs {
  uint64_t cmdline_address;
  uint64_t initrd_address = 0;  // 0: none
  uint64_t initrd_size = 0;
  uint64_t rsdp_address = 0;
  std::vector<E820Entry> e820;
};

// The zero page for `image`. Fails when the memory map has too many entries.
Result<BootParams> make_zero_page(const BzImage& image, const ZeroPageInputs& inputs);

}  // namespace vmhive::x86::boot
