#include "devices/pci/config_access.h"

#include <algorithm>
#include <cstring>

namespace vmhive::pci {
namespace {

constexpr uint32_t kEnableBit = 1u << 31;

// An access that crosses its dword, or is not 1, 2 or 4 bytes, is not one a
// CPU can make to configuration space: reads give all ones, writes are dropped.
bool well_formed(uint64_t offset, size_t length) {
  return (length == 1 || length == 2 || length == 4) && (offset % 4) + length <= 4;
}

ConfigAddress ecam_address(uint64_t offset) {
  return ConfigAddress{static_cast<uint8_t>(offset >> 20), static_cast<uint8_t>((offset >> 15) & 0x1f),
                       static_cast<uint8_t>((offset >> 12) & 0x7), static_cast<uint16_t>(offset & 0xfff)};
}

}  // namespace

bool ConfigPorts::target(uint16_t data_offset, size_t length, ConfigAddress& address) const {
  const uint32_t value = address_.load(std::memory_order_relaxed);
  if (!(value & kEnableBit) || !well_formed(data_offset, length)) return false;
  address = ConfigAddress{static_cast<uint8_t>(value >> 16), static_cast<uint8_t>((value >> 11) & 0x1f),
                          static_cast<uint8_t>((value >> 8) & 0x7),
                          static_cast<uint16_t>((value & 0xfc) + data_offset)};
  return true;
}

void ConfigPorts::read(uint16_t offset, std::span<uint8_t> data) {
  if (offset < 4) {
    if (offset == 0 && data.size() == 4) {
      const uint32_t value = address_.load(std::memory_order_relaxed);
      std::memcpy(data.data(), &value, 4);
    } else {
      std::fill(data.begin(), data.end(), 0xff);
    }
    return;
  }
  ConfigAddress address;
  if (!target(static_cast<uint16_t>(offset - 4), data.size(), address)) {
    std::fill(data.begin(), data.end(), 0xff);
    return;
  }
  bus_.config_read(address, data);
}

void ConfigPorts::write(uint16_t offset, std::span<const uint8_t> data) {
  if (offset < 4) {
    if (offset == 0 && data.size() == 4) {
      uint32_t value;
      std::memcpy(&value, data.data(), 4);
      address_.store(value & (kEnableBit | 0x00fffffc), std::memory_order_relaxed);
    }
    return;
  }
  ConfigAddress address;
  if (target(static_cast<uint16_t>(offset - 4), data.size(), address)) bus_.config_write(address, data);
}

void EcamWindow::read(uint64_t offset, std::span<uint8_t> data) {
  if (!well_formed(offset, data.size())) {
    std::fill(data.begin(), data.end(), 0xff);
    return;
  }
  bus_.config_read(ecam_address(offset), data);
}

void EcamWindow::write(uint64_t offset, std::span<const uint8_t> data) {
  if (well_formed(offset, data.size())) bus_.config_write(ecam_address(offset), data);
}

}  // namespace vmhive::pci
