#include "devices/legacy/post_code_port.h"

#include <algorithm>

namespace vmhive::devices {

void PostCodePort::read(uint16_t, std::span<uint8_t> data) { std::fill(data.begin(), data.end(), last_code()); }

void PostCodePort::write(uint16_t, std::span<const uint8_t> data) {
  if (!data.empty()) last_code_.store(data[0], std::memory_order_relaxed);
}

}  // namespace vmhive::devices
