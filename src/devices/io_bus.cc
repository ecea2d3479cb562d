#include "devices/io_bus.h"

#include <algorithm>
#include <cstdio>
#include <string>

namespace vmhive {
namespace {

constexpr uint32_t kPortSpaceEnd = 0x10000;
constexpr uint8_t kUnclaimedByte = 0xff;

std::string hex(uint32_t port) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%x", port);
  return text;
}

std::string describe(uint32_t base, uint32_t end) { return hex(base) + "-" + hex(end - 1); }

}  // namespace

Result<void> IoBus::add(uint16_t base, uint16_t length, PioDevice* device) {
  if (device == nullptr) return make_error("I/O port range at " + hex(base) + ": no device given");
  if (length == 0) return make_error("I/O port range at " + hex(base) + " has zero length");
  uint32_t end = uint32_t{base} + length;
  if (end > kPortSpaceEnd) {
    return make_error("I/O port range " + describe(base, end) + " runs past port 0xffff");
  }
  auto next = std::upper_bound(ranges_.begin(), ranges_.end(), uint32_t{base},
                               [](uint32_t port, const Range& range) { return port < range.base; });
  if (next != ranges_.end() && next->base < end) {
    return make_error("I/O port range " + describe(base, end) + " overlaps " + describe(next->base, next->end) +
                      ", already claimed");
  }
  if (next != ranges_.begin()) {
    auto previous = std::prev(next);
    if (previous->end > base) {
      return make_error("I/O port range " + describe(base, end) + " overlaps " +
                        describe(previous->base, previous->end) + ", already claimed");
    }
  }
  ranges_.insert(next, Range{base, end, device});
  return {};
}

const IoBus::Range* IoBus::find(uint32_t port) const {
  auto next = std::upper_bound(ranges_.begin(), ranges_.end(), port,
                               [](uint32_t p, const Range& range) { return p < range.base; });
  if (next == ranges_.begin()) return nullptr;
  const Range& candidate = *std::prev(next);
  return port < candidate.end ? &candidate : nullptr;
}

void IoBus::read(uint16_t port, std::span<uint8_t> data) const {
  if (data.empty()) return;
  const Range* range = find(port);
  if (range != nullptr && port + data.size() <= range->end) {
    range->device->read(static_cast<uint16_t>(port - range->base), data);
    return;
  }
  for (size_t i = 0; i < data.size(); ++i) {
    uint32_t byte_port = uint32_t{port} + static_cast<uint32_t>(i);
    const Range* owner = byte_port < kPortSpaceEnd ? find(byte_port) : nullptr;
    if (owner == nullptr) {
      data[i] = kUnclaimedByte;
    } else {
      owner->device->read(static_cast<uint16_t>(byte_port - owner->base), data.subspan(i, 1));
    }
  }
}

void IoBus::write(uint16_t port, std::span<const uint8_t> data) const {
  if (data.empty()) return;
  const Range* range = find(port);
  if (range != nullptr && port + data.size() <= range->end) {
    range->device->write(static_cast<uint16_t>(port - range->base), data);
    return;
  }
  for (size_t i = 0; i < data.size(); ++i) {
    uint32_t byte_port = uint32_t{port} + static_cast<uint32_t>(i);
    const Range* owner = byte_port < kPortSpaceEnd ? find(byte_port) : nullptr;
    if (owner != nullptr) owner->device->write(static_cast<uint16_t>(byte_port - owner->base), data.subspan(i, 1));
  }
}

}  // namespace vmhive
