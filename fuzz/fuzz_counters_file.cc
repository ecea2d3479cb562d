// A VM's counters file is written by the VM process and read by its daemon:
// arbitrary bytes either parse into counters or are refused, never a crash.
#include <cstddef>
#include <cstdint>
#include <span>

#include "control/counters_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto snapshot = vmhive::control::parse_counters_file(std::span<const uint8_t>(data, size));
  if (snapshot.ok() && snapshot->vcpu_threads.empty()) __builtin_trap();  // a file has at least one vCPU
  return 0;
}
