#include "devices/io_bus.h"

namespace vmhive {
namespace {

constexpr uint8_t kUnclaimedByte = 0xff;

}  // namespace

Result<void> IoBus::add(uint16_t base, uint16_t length, PioDevice* device) { return ports_.add(base, length, device); }

void IoBus::read(uint16_t port, std::span<uint8_t> data) const {
  if (data.empty()) return;
  if (const auto* range = ports_.find_holding(port, data.size())) {
    range->device->read(static_cast<uint16_t>(port - range->first), data);
    return;
  }
  for (size_t i = 0; i < data.size(); ++i) {
    const uint64_t byte_port = uint64_t{port} + i;
    const auto* owner = ports_.find(byte_port);  // null past port 0xffff too
    if (owner == nullptr) {
      data[i] = kUnclaimedByte;
    } else {
      owner->device->read(static_cast<uint16_t>(byte_port - owner->first), data.subspan(i, 1));
    }
  }
}

void IoBus::write(uint16_t port, std::span<const uint8_t> data) const {
  if (data.empty()) return;
  if (const auto* range = ports_.find_holding(port, data.size())) {
    range->device->write(static_cast<uint16_t>(port - range->first), data);
    return;
  }
  for (size_t i = 0; i < data.size(); ++i) {
    const uint64_t byte_port = uint64_t{port} + i;
    const auto* owner = ports_.find(byte_port);
    if (owner != nullptr) owner->device->write(static_cast<uint16_t>(byte_port - owner->first), data.subspan(i, 1));
  }
}

}  // namespace vmhive
