#include "devices/mmio_bus.h"

#include <cstring>
#include <mutex>

namespace vmhive {

Result<void> MmioBus::add(uint64_t base, uint64_t length, MmioDevice* device) {
  std::unique_lock guard(lock_);
  return ranges_.add(base, length, device);
}

bool MmioBus::remove(uint64_t base, MmioDevice* device) {
  std::unique_lock guard(lock_);
  return ranges_.remove(base, device);
}

std::optional<MmioBus::Ranges::Range> MmioBus::find(uint64_t address, uint64_t length) const {
  std::shared_lock guard(lock_);
  const auto* range = ranges_.find_holding(address, length);
  if (range == nullptr) return std::nullopt;
  return *range;
}

// The device is called after the lock is released: its access may move a
// range (a configuration write that relocates a BAR), and devices outlive the bus.
void MmioBus::read(uint64_t address, std::span<uint8_t> data) const {
  auto range = find(address, data.size());
  if (!range) {
    std::memset(data.data(), 0xff, data.size());
    return;
  }
  range->device->read(address - range->first, data);
}

void MmioBus::write(uint64_t address, std::span<const uint8_t> data) const {
  auto range = find(address, data.size());
  if (range) range->device->write(address - range->first, data);
}

}  // namespace vmhive
