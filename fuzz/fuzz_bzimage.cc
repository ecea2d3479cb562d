// A bzImage is a user's file: parsing, telling Linux from its version
// string, and building the zero page must reject anything malformed without
// reading outside the buffer.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "arch/x86/boot/bzimage.h"
#include "arch/x86/layout.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vmhive::x86;
  std::span<const uint8_t> image(data, size);
  (void)boot::looks_like_bzimage(image);
  if (size >= boot::kSetupHeaderEnd) {
    boot::SetupHeader header;
    std::memcpy(&header, data + boot::kSetupHeaderOffset, sizeof header);
    // The version string must be the file's own bytes, NUL-terminated inside them.
    auto version = boot::linux_version_string(image, header);
    if (version && (version->data() < reinterpret_cast<const char*>(data) ||
                    version->data() + version->size() >= reinterpret_cast<const char*>(data) + size ||
                    version->data()[version->size()] != '\0')) {
      __builtin_trap();
    }
  }
  auto parsed = boot::parse_bzimage(image);
  if (!parsed.ok()) return 0;
  // What parse accepted must describe bytes inside the file.
  if (parsed->kernel_offset + parsed->kernel_size > size) __builtin_trap();
  // syssize may round past the end of the file, but by less than one 16-byte unit.
  if (parsed->kernel_declared_size < parsed->kernel_size ||
      parsed->kernel_declared_size - parsed->kernel_size >= 16) {
    __builtin_trap();
  }
  boot::ZeroPageInputs inputs{kCmdlineAddress, 0x4000000, 4096, 0xe0000, e820_map(256ull << 20)};
  (void)boot::make_zero_page(*parsed, inputs);
  return 0;
}
