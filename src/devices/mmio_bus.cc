#include "devices/mmio_bus.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>

namespace vmhive {
namespace {

std::string describe(uint64_t base, uint64_t end) {
  char text[48];
  std::snprintf(text, sizeof text, "0x%llx-0x%llx", static_cast<unsigned long long>(base),
                static_cast<unsigned long long>(end - 1));
  return text;
}

}  // namespace

Result<void> MmioBus::add(uint64_t base, uint64_t length, MmioDevice* device) {
  if (device == nullptr) return make_error("MMIO range at " + describe(base, base + 1) + ": no device given");
  if (length == 0) return make_error("MMIO range at " + describe(base, base + 1) + " has zero length");
  if (base + length < base) return make_error("MMIO range at " + describe(base, base + 1) + " wraps around");
  const uint64_t end = base + length;
  std::unique_lock guard(lock_);
  auto next = std::upper_bound(ranges_.begin(), ranges_.end(), base,
                               [](uint64_t address, const Range& range) { return address < range.base; });
  if (next != ranges_.end() && next->base < end) {
    return make_error("MMIO range " + describe(base, end) + " overlaps " + describe(next->base, next->end));
  }
  if (next != ranges_.begin() && std::prev(next)->end > base) {
    return make_error("MMIO range " + describe(base, end) + " overlaps " +
                      describe(std::prev(next)->base, std::prev(next)->end));
  }
  ranges_.insert(next, Range{base, end, device});
  return {};
}

bool MmioBus::remove(uint64_t base, MmioDevice* device) {
  std::unique_lock guard(lock_);
  auto found = std::find_if(ranges_.begin(), ranges_.end(),
                            [&](const Range& range) { return range.base == base && range.device == device; });
  if (found == ranges_.end()) return false;
  ranges_.erase(found);
  return true;
}

std::optional<MmioBus::Range> MmioBus::find(uint64_t address, uint64_t length) const {
  std::shared_lock guard(lock_);
  auto next = std::upper_bound(ranges_.begin(), ranges_.end(), address,
                               [](uint64_t a, const Range& range) { return a < range.base; });
  if (next == ranges_.begin()) return std::nullopt;
  const Range& candidate = *std::prev(next);
  if (length == 0 || address >= candidate.end || length > candidate.end - address) return std::nullopt;
  return candidate;
}

// The device is called after the lock is released: its access may move a
// range (a configuration write that relocates a BAR), and devices outlive the bus.
void MmioBus::read(uint64_t address, std::span<uint8_t> data) const {
  auto range = find(address, data.size());
  if (!range) {
    std::memset(data.data(), 0xff, data.size());
    return;
  }
  range->device->read(address - range->base, data);
}

void MmioBus::write(uint64_t address, std::span<const uint8_t> data) const {
  auto range = find(address, data.size());
  if (range) range->device->write(address - range->base, data);
}

}  // namespace vmhive
