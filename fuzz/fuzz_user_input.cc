// What a user types: --mem sizes, --disk options, and ACPI names and EISA ids (which later
// come from device configuration). Bad text must be an error, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "arch/x86/acpi/aml.h"
#include "config/device_options.h"
#include "common/size_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto bytes = vmhive::parse_size(text, 1ull << 20);
  if (bytes.ok()) (void)vmhive::format_size(*bytes);
  auto name = vmhive::x86::acpi::aml::NameString::parse(text);
  if (name.ok() && name->encoded().empty()) __builtin_trap();
  (void)vmhive::x86::acpi::aml::EisaId::parse(text);
  auto disk = vmhive::config::parse_disk_option(text);
  if (disk.ok() && (disk->path.empty() || (disk->read_only && !disk->overlay_path.empty()))) __builtin_trap();
  return 0;
}
