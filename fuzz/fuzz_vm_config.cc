// A VM configuration document is a user's (or an API client's) input: read
// it, and a spec that reads must write a document that reads back the same.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/vm_spec_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vmhive::config;
  auto spec = vm_spec_from_json(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!spec.ok()) return 0;
  const std::string written = vm_spec_to_json(*spec).dump();
  auto again = vm_spec_from_json(written);
  if (!again.ok() || vm_spec_to_json(*again).dump() != written) __builtin_trap();
  return 0;
}
