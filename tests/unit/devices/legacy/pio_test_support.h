// Helpers for driving a PioDevice through its ports, as a guest's in/out would.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "devices/io_bus.h"
#include "devices/machine_events.h"

namespace vmhive::pio_test {

inline uint8_t in8(PioDevice& device, uint16_t offset) {
  uint8_t value = 0;
  device.read(offset, std::span(&value, 1));
  return value;
}

inline void out8(PioDevice& device, uint16_t offset, uint8_t value) { device.write(offset, std::span(&value, 1)); }

// Records every stop request a device makes.
struct StopRecorder {
  std::vector<StopRequest> requests;
  StopCallback callback() {
    return [this](const StopRequest& request) { requests.push_back(request); };
  }
};

}  // namespace vmhive::pio_test
