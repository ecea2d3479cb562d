#include "devices/legacy/debug_exit.h"

#include <algorithm>

namespace vmhive::devices {

void DebugExit::read(uint16_t, std::span<uint8_t> data) { std::fill(data.begin(), data.end(), 0xff); }

void DebugExit::write(uint16_t, std::span<const uint8_t> data) {
  if (data.empty()) return;
  stop_(StopRequest{StopReason::kDebugExit, data[0]});  // the low byte of a wider write
}

}  // namespace vmhive::devices
