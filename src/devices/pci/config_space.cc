#include "devices/pci/config_space.h"

#include <cstring>
#include <string>

namespace vmhive::pci {
namespace {

constexpr uint16_t kCommandWritable = kCommandIoSpace | kCommandMemorySpace | kCommandBusMaster | (1u << 6) |
                                      (1u << 8) | kCommandIntxDisable;
constexpr uint16_t kCacheLineSize = 0x0c;
constexpr uint64_t kMinimumBarSize = 4096;

}  // namespace

ConfigSpace::ConfigSpace(const DeviceIdentity& identity) {
  auto put16 = [this](uint16_t offset, uint16_t value) { std::memcpy(&bytes_[offset], &value, 2); };
  put16(kVendorId, identity.vendor_id);
  put16(kDeviceId, identity.device_id);
  bytes_[kRevisionId] = identity.revision;
  bytes_[kClassCode] = static_cast<uint8_t>(identity.class_code);
  bytes_[kClassCode + 1] = static_cast<uint8_t>(identity.class_code >> 8);
  bytes_[kClassCode + 2] = static_cast<uint8_t>(identity.class_code >> 16);
  bytes_[kHeaderType] = 0;  // type 0, single function
  put16(kSubsystemVendorId, identity.subsystem_vendor_id);
  put16(kSubsystemId, identity.subsystem_id);
  writable_[kCommand] = static_cast<uint8_t>(kCommandWritable);
  writable_[kCommand + 1] = static_cast<uint8_t>(kCommandWritable >> 8);
  writable_[kCacheLineSize] = 0xff;
  writable_[kInterruptLine] = 0xff;  // scratch for the OS; no INTx pin (every device uses MSI-X)
}

Result<void> ConfigSpace::add_memory_bar(unsigned index, uint64_t size, bool is_64bit, bool prefetchable) {
  const unsigned registers = is_64bit ? 2 : 1;
  if (index + registers > kBarCount) return make_error("BAR " + std::to_string(index) + " does not exist");
  for (unsigned i = index; i < index + registers; ++i) {
    if (bar_sizes_[i] != 0 || bar_is_upper_half_[i]) return make_error("BAR " + std::to_string(i) + " is taken");
  }
  if (size < kMinimumBarSize || (size & (size - 1)) != 0 || (!is_64bit && size > (1ull << 31))) {
    return make_error("BAR size " + std::to_string(size) + " is not a power of two from 4 KiB (2 GiB for 32-bit)");
  }
  const uint16_t offset = static_cast<uint16_t>(kBar0 + 4 * index);
  const uint32_t flags = (is_64bit ? 0x4u : 0u) | (prefetchable ? 0x8u : 0u);
  std::memcpy(&bytes_[offset], &flags, 4);
  const uint64_t address_mask = ~(size - 1);
  const uint32_t low_mask = static_cast<uint32_t>(address_mask) & ~0xfu;
  std::memcpy(&writable_[offset], &low_mask, 4);
  if (is_64bit) {
    const uint32_t high_mask = static_cast<uint32_t>(address_mask >> 32);
    std::memcpy(&writable_[offset + 4], &high_mask, 4);
    bar_is_upper_half_[index + 1] = true;
  }
  bar_sizes_[index] = size;
  bar_is_64bit_[index] = is_64bit;
  return {};
}

Result<uint8_t> ConfigSpace::add_capability(uint8_t id, std::span<const uint8_t> body,
                                            std::span<const uint8_t> writable) {
  if (!writable.empty() && writable.size() != body.size()) {
    return make_error("capability write mask of the wrong length");
  }
  const size_t length = 2 + body.size();
  if (next_capability_ + length > kConfigSpaceSize) {
    return make_error("capability " + std::to_string(id) + " does not fit in configuration space");
  }
  const auto offset = static_cast<uint8_t>(next_capability_);
  bytes_[offset] = id;
  bytes_[offset + 1] = 0;
  std::memcpy(&bytes_[offset + 2], body.data(), body.size());
  if (!writable.empty()) std::memcpy(&writable_[offset + 2], writable.data(), writable.size());
  if (last_capability_ == 0) {
    bytes_[kCapabilitiesPointer] = offset;
    bytes_[kStatus] |= kStatusCapabilitiesList;
  } else {
    bytes_[last_capability_ + 1] = offset;
  }
  last_capability_ = offset;
  next_capability_ = static_cast<uint16_t>((offset + length + 3) & ~size_t{3});
  return offset;
}

void ConfigSpace::read(uint16_t offset, std::span<uint8_t> data) const {
  for (size_t i = 0; i < data.size(); ++i) {
    const size_t at = size_t{offset} + i;
    data[i] = at < kConfigSpaceSize ? bytes_[at] : 0;
  }
}

void ConfigSpace::write(uint16_t offset, std::span<const uint8_t> data) {
  for (size_t i = 0; i < data.size(); ++i) {
    const size_t at = size_t{offset} + i;
    if (at >= kConfigSpaceSize) return;
    bytes_[at] = static_cast<uint8_t>((bytes_[at] & ~writable_[at]) | (data[i] & writable_[at]));
  }
}

uint32_t ConfigSpace::read32(uint16_t offset) const {
  uint32_t value = 0;
  read(offset, std::span(reinterpret_cast<uint8_t*>(&value), 4));
  return value;
}

uint16_t ConfigSpace::read16(uint16_t offset) const {
  uint16_t value = 0;
  read(offset, std::span(reinterpret_cast<uint8_t*>(&value), 2));
  return value;
}

void ConfigSpace::set16(uint16_t offset, uint16_t value) {
  if (offset + 2u <= kConfigSpaceSize) std::memcpy(&bytes_[offset], &value, 2);
}

Result<void> ConfigSpace::check_restore(std::span<const uint8_t> bytes) const {
  if (bytes.size() != kConfigSpaceSize)
    return make_error("PCI configuration space of " + std::to_string(bytes.size()) + " bytes (want 256)");
  for (size_t at = 0; at < kConfigSpaceSize; ++at) {
    if ((bytes[at] & ~writable_[at]) != (bytes_[at] & ~writable_[at]))
      return make_error("PCI configuration byte " + std::to_string(at) + " is not this device's");
  }
  return {};
}

Result<void> ConfigSpace::restore(std::span<const uint8_t> bytes) {
  VMHIVE_CHECK(check_restore(bytes));
  std::memcpy(bytes_.data(), bytes.data(), kConfigSpaceSize);
  return {};
}

uint64_t ConfigSpace::bar_address(unsigned index) const {
  if (index >= kBarCount || bar_sizes_[index] == 0) return 0;
  const uint16_t offset = static_cast<uint16_t>(kBar0 + 4 * index);
  uint64_t address = read32(offset) & ~0xfull;
  if (bar_is_64bit_[index]) address |= static_cast<uint64_t>(read32(offset + 4)) << 32;
  return address;
}

}  // namespace vmhive::pci
