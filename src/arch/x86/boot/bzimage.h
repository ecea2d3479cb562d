// Parsing a bzImage (the Linux/x86 boot protocol) and writing its zero page.
// The image is untrusted input: every field is checked against the file.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
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
  bool is_linux;                // linux_version_string() found Linux's version string
};

bool looks_like_bzimage(std::span<const uint8_t> image);

// Whether a bzImage is Linux, from evidence in the file rather than from its
// format (other kernels use the boot protocol too). boot.rst: the setup
// header's kernel_version (0x20e, protocol 2.00+), when non-zero, is the
// offset less 0x200 of a NUL-terminated version string in the setup code.
// Linux fills it from arch/x86/boot/version.c as
//   UTS_RELEASE " (" LINUX_COMPILE_BY "@" LINUX_COMPILE_HOST ") " UTS_VERSION
// e.g. "6.1.0-57-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP ...".
// The rule: the string and its NUL lie inside the setup code
// ((setup_sects + 1) * 512 bytes, and the file); it is printable ASCII; it
// starts with a release of digits "." digits and more non-space characters,
// then " (", a builder holding an '@' with text on both sides, and ")".
// Returns the string when all of that holds, nullopt otherwise.
std::optional<std::string_view> linux_version_string(std::span<const uint8_t> image, const SetupHeader& header);

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
