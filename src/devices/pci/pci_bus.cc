#include "devices/pci/pci_bus.h"

#include <algorithm>
#include <string>

namespace vmhive::pci {
namespace {

bool overlaps(uint16_t offset, size_t length, uint16_t start, uint16_t end) {
  return offset < end && offset + length > start;
}

}  // namespace

PciBus::PciBus(MmioBus& mmio, uint64_t window_base, uint64_t window_end)
    : mmio_(mmio), next_bar_address_(window_base), window_end_(window_end) {}

Result<uint8_t> PciBus::add(PciDevice* device, std::optional<uint8_t> slot_number) {
  if (device == nullptr) return make_error("no PCI device given");
  std::lock_guard guard(lock_);
  uint8_t number = 0;
  if (slot_number) {
    if (*slot_number >= kDevicesPerBus) return make_error("PCI slot " + std::to_string(*slot_number) + " does not exist");
    if (slots_[*slot_number].device) return make_error("PCI slot " + std::to_string(*slot_number) + " is taken");
    number = *slot_number;
  } else {
    auto free = std::find_if(slots_.begin(), slots_.end(), [](const Slot& slot) { return slot.device == nullptr; });
    if (free == slots_.end()) return make_error("PCI bus 0 is full (32 devices)");
    number = static_cast<uint8_t>(free - slots_.begin());
  }

  // Assign the BARs, largest alignment first is not needed: each BAR is
  // aligned to its own size, wasting at most the gap before it.
  ConfigSpace& config = device->config();
  uint64_t next = next_bar_address_;
  std::array<uint64_t, kBarCount> assigned{};
  for (unsigned bar = 0; bar < kBarCount; ++bar) {
    const uint64_t size = config.bar_size(bar);
    if (size == 0) continue;
    const uint64_t address = (next + size - 1) & ~(size - 1);
    if (address < next || address + size > window_end_) {
      return make_error("no room for a " + std::to_string(size) + "-byte BAR in the PCI MMIO window");
    }
    assigned[bar] = address;
    next = address + size;
  }
  for (unsigned bar = 0; bar < kBarCount; ++bar) {
    if (assigned[bar] == 0) continue;
    const uint64_t address = assigned[bar];
    const uint16_t offset = static_cast<uint16_t>(kBar0 + 4 * bar);
    const uint32_t low = static_cast<uint32_t>(address), high = static_cast<uint32_t>(address >> 32);
    config.write(offset, std::span(reinterpret_cast<const uint8_t*>(&low), 4));
    config.write(static_cast<uint16_t>(offset + 4), std::span(reinterpret_cast<const uint8_t*>(&high), 4));
  }
  next_bar_address_ = next;

  Slot& slot = slots_[number];
  slot.device = device;
  for (unsigned bar = 0; bar < kBarCount; ++bar) {
    if (config.bar_size(bar) != 0) slot.windows[bar] = std::make_unique<BarWindow>(device, bar);
  }
  update_bar_mappings(slot);  // decoding is off until the driver turns it on, so nothing maps yet
  return number;
}

PciDevice* PciBus::find(const ConfigAddress& address) const {
  if (address.bus != 0 || address.device >= kDevicesPerBus || address.function != 0) return nullptr;
  return slots_[address.device].device;
}

void PciBus::config_read(const ConfigAddress& address, std::span<uint8_t> data) {
  std::lock_guard guard(lock_);
  PciDevice* device = find(address);
  if (device == nullptr) {
    std::fill(data.begin(), data.end(), 0xff);
    return;
  }
  device->config().read(address.offset, data);
}

void PciBus::config_write(const ConfigAddress& address, std::span<const uint8_t> data) {
  std::lock_guard guard(lock_);
  PciDevice* device = find(address);
  if (device == nullptr) return;
  device->config().write(address.offset, data);
  device->config_written(address.offset, data.size());
  if (overlaps(address.offset, data.size(), kCommand, kCommand + 2) ||
      overlaps(address.offset, data.size(), kBar0, kBar0 + 4 * kBarCount)) {
    update_bar_mappings(slots_[address.device]);
  }
}

void PciBus::update_bar_mappings(Slot& slot) {
  ConfigSpace& config = slot.device->config();
  const bool decoding = (config.command() & kCommandMemorySpace) != 0;
  for (unsigned bar = 0; bar < kBarCount; ++bar) {
    const uint64_t size = config.bar_size(bar);
    if (size == 0) continue;
    const uint64_t address = config.bar_address(bar);
    std::optional<uint64_t> wanted;
    if (decoding && address != 0 && address + size > address) wanted = address;
    if (wanted == slot.mapped[bar]) continue;
    if (slot.mapped[bar]) mmio_.remove(*slot.mapped[bar], slot.windows[bar].get());
    slot.mapped[bar].reset();
    // A BAR placed over another range (the ECAM window, another BAR) stays
    // unmapped, as a conflicting decode would be undefined on hardware.
    if (wanted && mmio_.add(*wanted, size, slot.windows[bar].get()).ok()) slot.mapped[bar] = wanted;
    slot.device->bar_mapped(bar, slot.mapped[bar]);
  }
}

void PciBus::remap_bars() {
  std::lock_guard guard(lock_);
  for (Slot& slot : slots_) {
    if (slot.device != nullptr) update_bar_mappings(slot);
  }
}

std::optional<uint64_t> PciBus::mapped_bar(uint8_t slot, unsigned bar) const {
  std::lock_guard guard(lock_);
  if (slot >= kDevicesPerBus || bar >= kBarCount) return std::nullopt;
  return slots_[slot].mapped[bar];
}

}  // namespace vmhive::pci
