// A snapshot's state file is a user's file (possibly corrupt, possibly
// hostile): parsing it and decoding the machine state must fail cleanly or
// succeed, never crash or allocate without bound. A decoded state must also
// encode again into a file that parses to the same sections.
#include <cstddef>
#include <cstdint>
#include <span>

#include "snapshot/machine_state.h"
#include "snapshot/state_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vmhive::snapshot;
  auto file = StateFile::parse(std::span(data, size));
  if (!file.ok()) return 0;
  auto state = decode_machine_state(*file);
  if (!state.ok()) return 0;
  auto again = StateFile::parse(encode_machine_state(*state));
  if (!again.ok() || !decode_machine_state(*again).ok()) __builtin_trap();
  return 0;
}
