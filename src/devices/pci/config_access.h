// The two ways a guest reaches PCI configuration space: mechanism #1 through
// ports 0xCF8 (address) and 0xCFC-0xCFF (data), and ECAM, a memory window
// with 4 KiB per function (PCI Express Base §7.2.2), which the MCFG table
// announces. Both only decode addresses and hand the access to the bus.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>

#include "devices/io_bus.h"
#include "devices/mmio_bus.h"
#include "devices/pci/pci_bus.h"

namespace vmhive::pci {

inline constexpr uint16_t kConfigPortsBase = 0xcf8;
inline constexpr uint16_t kConfigPortsLength = 8;
inline constexpr uint64_t kEcamBytesPerBus = 1ull << 20;

// Ports 0xCF8-0xCFF. Only 32-bit accesses reach the address register (byte
// accesses to 0xCF9 are the reset control register on PC chipsets, which
// this device leaves alone); the data ports take 1, 2 or 4 bytes.
class ConfigPorts : public PioDevice {
 public:
  explicit ConfigPorts(PciBus& bus) : bus_(bus) {}
  void read(uint16_t offset, std::span<uint8_t> data) override;
  void write(uint16_t offset, std::span<const uint8_t> data) override;

 private:
  // The function the data ports reach, or false when the enable bit is clear.
  bool target(uint16_t data_offset, size_t length, ConfigAddress& address) const;

  PciBus& bus_;
  std::atomic<uint32_t> address_{0};
};

// The ECAM window for bus 0 (1 MiB): offset = device << 15 | function << 12 | register.
class EcamWindow : public MmioDevice {
 public:
  explicit EcamWindow(PciBus& bus) : bus_(bus) {}
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  PciBus& bus_;
};

}  // namespace vmhive::pci
