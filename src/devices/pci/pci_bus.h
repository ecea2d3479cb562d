// PCI bus 0: up to 32 single-function devices, configuration accesses
// routed by device number, and each device's memory BARs kept mapped on the
// MMIO bus wherever the driver puts them while memory decoding is on.
//
// vmhive assigns every BAR an address in the 32-bit window when the device is
// added, as firmware would, so that a guest without a PCI resource allocator
// (the ring-3 test guests) finds its devices ready; Linux keeps or moves them.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>

#include "common/result.h"
#include "devices/mmio_bus.h"
#include "devices/pci/pci_device.h"

namespace vmhive::pci {

inline constexpr unsigned kDevicesPerBus = 32;

// Where a configuration access goes (bus, device, function, register).
struct ConfigAddress {
  uint8_t bus;
  uint8_t device;
  uint8_t function;
  uint16_t offset;
};

class PciBus {
 public:
  // BARs are assigned from [window_base, window_end).
  PciBus(MmioBus& mmio, uint64_t window_base, uint64_t window_end);
  PciBus(const PciBus&) = delete;
  PciBus& operator=(const PciBus&) = delete;

  // Puts `device` (which must outlive the bus) in the lowest free slot, or in
  // `slot` when given, and assigns its BARs. Returns the device number.
  Result<uint8_t> add(PciDevice* device, std::optional<uint8_t> slot = std::nullopt);

  // Accesses to functions that do not exist read all ones and drop writes.
  void config_read(const ConfigAddress& address, std::span<uint8_t> data);
  void config_write(const ConfigAddress& address, std::span<const uint8_t> data);

  // Maps every device's BARs as its configuration space now says (after a
  // restore put back the configuration the driver had written).
  void remap_bars();

  // The BAR mapped at the moment, for tests and diagnostics.
  std::optional<uint64_t> mapped_bar(uint8_t slot, unsigned bar) const;

 private:
  // The MMIO bus's view of one BAR: forwards to the device.
  class BarWindow : public MmioDevice {
   public:
    BarWindow(PciDevice* device, unsigned bar) : device_(device), bar_(bar) {}
    void read(uint64_t offset, std::span<uint8_t> data) override { device_->bar_read(bar_, offset, data); }
    void write(uint64_t offset, std::span<const uint8_t> data) override { device_->bar_write(bar_, offset, data); }

   private:
    PciDevice* device_;
    unsigned bar_;
  };

  struct Slot {
    PciDevice* device = nullptr;
    std::array<std::unique_ptr<BarWindow>, kBarCount> windows;
    std::array<std::optional<uint64_t>, kBarCount> mapped;
  };

  PciDevice* find(const ConfigAddress& address) const;
  void update_bar_mappings(Slot& slot);

  MmioBus& mmio_;
  uint64_t next_bar_address_;
  uint64_t window_end_;
  mutable std::mutex lock_;
  std::array<Slot, kDevicesPerBus> slots_;
};

}  // namespace vmhive::pci
