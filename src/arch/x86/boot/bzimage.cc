#include "arch/x86/boot/bzimage.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "common/hex.h"

namespace vmhive::x86::boot {
namespace {

constexpr size_t kSectorSize = 512;
constexpr uint8_t kDefaultSetupSects = 4;  // a setup_sects of 0 means 4 (boot.rst)
constexpr size_t kParagraph = 16;
constexpr uint16_t kHeapEnd = 0xfe00;  // the real-mode heap end boot.rst suggests

size_t setup_sectors(const SetupHeader& header) {
  return header.setup_sects == 0 ? kDefaultSetupSects : header.setup_sects;
}

bool is_printable(char c) { return c >= 0x20 && c <= 0x7e; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The shape of Linux's version string (see linux_version_string in the header).
bool reads_like_linux_version(std::string_view text) {
  if (!std::all_of(text.begin(), text.end(), is_printable)) return false;
  size_t at = 0;
  auto digits = [&] {
    const size_t start = at;
    while (at < text.size() && is_digit(text[at])) ++at;
    return at > start;
  };
  if (!digits() || at >= text.size() || text[at] != '.') return false;
  ++at;
  if (!digits()) return false;
  const size_t release_end = text.find(' ', at);
  if (release_end == std::string_view::npos || text.substr(release_end, 2) != " (") return false;
  const size_t builder_start = release_end + 2;
  const size_t builder_end = text.find(')', builder_start);
  if (builder_end == std::string_view::npos) return false;
  const std::string_view builder = text.substr(builder_start, builder_end - builder_start);
  const size_t at_sign = builder.find('@');
  return at_sign != std::string_view::npos && at_sign > 0 && at_sign + 1 < builder.size();
}

}  // namespace

std::optional<std::string_view> linux_version_string(std::span<const uint8_t> image, const SetupHeader& header) {
  constexpr size_t kVersionOffsetBias = 0x200;  // boot.rst: the field holds the offset "less 0x200"
  if (header.kernel_version == 0) return std::nullopt;
  const size_t setup_end = std::min(image.size(), (setup_sectors(header) + 1) * kSectorSize);
  const size_t start = size_t{header.kernel_version} + kVersionOffsetBias;
  if (start >= setup_end) return std::nullopt;
  const auto* first = reinterpret_cast<const char*>(image.data()) + start;
  const auto* nul = static_cast<const char*>(std::memchr(first, 0, setup_end - start));
  if (nul == nullptr) return std::nullopt;
  const std::string_view text(first, static_cast<size_t>(nul - first));
  if (!reads_like_linux_version(text)) return std::nullopt;
  return text;
}

bool looks_like_bzimage(std::span<const uint8_t> image) {
  if (image.size() < kSetupHeaderEnd) return false;
  uint32_t magic;
  std::memcpy(&magic, image.data() + 0x202, sizeof magic);
  return magic == kHeaderMagic;
}

Result<BzImage> parse_bzimage(std::span<const uint8_t> image) {
  if (image.size() < kSetupHeaderEnd) {
    return make_error("truncated bzImage (" + std::to_string(image.size()) + " bytes, shorter than its setup header)");
  }
  BzImage result{};
  std::memcpy(&result.header, image.data() + kSetupHeaderOffset, sizeof(SetupHeader));
  const SetupHeader& header = result.header;
  if (header.header != kHeaderMagic) return make_error("not a bzImage (no \"HdrS\" setup header)");
  if (header.boot_flag != kBootFlag) return make_error("bzImage boot flag is " + hex(header.boot_flag) + ", not 0xaa55");
  if (header.version < kMinimumProtocol) {
    return make_error("bzImage boot protocol " + std::to_string(header.version >> 8) + "." +
                      std::to_string(header.version & 0xff) + " is too old (2.12 or later is needed)");
  }
  if ((header.xloadflags & kXlfKernel64) == 0) return make_error("bzImage has no 64-bit entry point");
  if ((header.loadflags & kLoadedHigh) == 0) return make_error("bzImage is not a high-loaded (bzImage) kernel");

  result.kernel_offset = (setup_sectors(header) + 1) * kSectorSize;
  result.kernel_declared_size = uint64_t{header.syssize} * kParagraph;
  const uint64_t expected_size = result.kernel_offset + result.kernel_declared_size;
  if (result.kernel_declared_size == 0) return make_error("bzImage has an empty protected-mode kernel (syssize 0)");
  // syssize counts whole paragraphs, so a kernel whose length is not a
  // multiple of 16 rounds up past the end of the file: less than one
  // paragraph short is that rounding, not a truncated file.
  if (expected_size >= image.size() + kParagraph) {
    return make_error("truncated bzImage (setup header says " + std::to_string(expected_size) + " bytes, file has " +
                      std::to_string(image.size()) + ")");
  }
  result.kernel_size = static_cast<size_t>(std::min<uint64_t>(expected_size, image.size()) - result.kernel_offset);

  // Load where the kernel prefers (it was linked there, so no relocation is
  // needed), or the usual 16 MiB for an old header without pref_address.
  uint64_t load = header.version >= 0x020a && header.pref_address != 0 ? header.pref_address : kDefaultLoadAddress;
  if (load < kHighMemoryStart || load >= kPciHoleStart) {
    return make_error("bzImage asks to be loaded at " + hex(load) + ", outside low RAM above 1 MiB");
  }
  if (header.kernel_alignment != 0 && (header.kernel_alignment & (header.kernel_alignment - 1)) == 0 &&
      load % header.kernel_alignment != 0) {
    return make_error("bzImage's preferred address " + hex(load) + " breaks its own alignment " +
                      hex(header.kernel_alignment));
  }
  result.load_address = load;
  result.memory_needed = std::max<uint64_t>(header.init_size, result.kernel_declared_size);
  result.is_linux = linux_version_string(image, header).has_value();
  return result;
}

Result<BootParams> make_zero_page(const BzImage& image, const ZeroPageInputs& inputs) {
  if (inputs.e820.size() > kE820MaxEntries) {
    return make_error("the memory map has " + std::to_string(inputs.e820.size()) + " entries; the zero page holds " +
                      std::to_string(kE820MaxEntries));
  }
  BootParams params{};
  params.header = image.header;
  params.header.type_of_loader = kUndefinedLoader;
  params.header.loadflags = static_cast<uint8_t>(params.header.loadflags | kCanUseHeap);
  params.header.heap_end_ptr = kHeapEnd;
  params.header.vid_mode = 0xffff;  // "normal": no video mode change
  params.header.cmd_line_ptr = static_cast<uint32_t>(inputs.cmdline_address);
  params.ext_cmd_line_ptr = static_cast<uint32_t>(inputs.cmdline_address >> 32);
  params.header.ramdisk_image = static_cast<uint32_t>(inputs.initrd_address);
  params.ext_ramdisk_image = static_cast<uint32_t>(inputs.initrd_address >> 32);
  params.header.ramdisk_size = static_cast<uint32_t>(inputs.initrd_size);
  params.ext_ramdisk_size = static_cast<uint32_t>(inputs.initrd_size >> 32);
  params.header.code32_start = static_cast<uint32_t>(image.load_address);
  params.acpi_rsdp_addr = inputs.rsdp_address;
  params.e820_entries = static_cast<uint8_t>(inputs.e820.size());
  for (size_t i = 0; i < inputs.e820.size(); ++i) {
    params.e820_table[i] = E820Record{inputs.e820[i].address, inputs.e820[i].size,
                                      static_cast<uint32_t>(inputs.e820[i].type)};
  }
  return params;
}

}  // namespace vmhive::x86::boot
