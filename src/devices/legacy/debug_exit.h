// The debug-exit port (0xf4): a test guest writes a byte and the VM stops
// with that code (0 is success). Reads return all ones.
#pragma once

#include <utility>

#include "devices/io_bus.h"
#include "devices/machine_events.h"

namespace vmhive::devices {

class DebugExit final : public PioDevice {
 public:
  explicit DebugExit(StopCallback stop) : stop_(std::move(stop)) {}
  void read(uint16_t offset, std::span<uint8_t> data) override;
  void write(uint16_t offset, std::span<const uint8_t> data) override;

 private:
  StopCallback stop_;
};

}  // namespace vmhive::devices
