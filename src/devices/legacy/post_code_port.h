// Port 0x80, where firmware and kernels write POST codes (and Linux's
// io_delay writes to slow down I/O). Writes are remembered, nothing more;
// the exits test guest hammers it to measure the cost of one exit.
#pragma once

#include <atomic>
#include <cstdint>

#include "devices/io_bus.h"

namespace vmhive::devices {

class PostCodePort final : public PioDevice {
 public:
  void read(uint16_t offset, std::span<uint8_t> data) override;
  void write(uint16_t offset, std::span<const uint8_t> data) override;
  uint8_t last_code() const { return last_code_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint8_t> last_code_{0};
};

}  // namespace vmhive::devices
