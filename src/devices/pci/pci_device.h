// What the PCI bus needs from a function on it: its configuration space, a
// hook after the driver writes it, and accesses to its BARs.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "devices/pci/config_space.h"

namespace vmhive::pci {

class PciDevice {
 public:
  virtual ~PciDevice() = default;

  // The bus reads and writes configuration space under its own lock; a
  // device that also touches it from elsewhere (an MSI-X state change from a
  // BAR write) must do so through config_written() or its own lock.
  virtual ConfigSpace& config() = 0;

  // Called after the driver wrote [offset, offset + length) of configuration
  // space, still under the bus lock (capability registers with side effects).
  virtual void config_written(uint16_t /*offset*/, size_t /*length*/) {}

  // Accesses to a mapped BAR; `offset` counts from the BAR's base. Called on
  // vCPU threads without the bus lock.
  virtual void bar_read(unsigned bar, uint64_t offset, std::span<uint8_t> data) = 0;
  virtual void bar_write(unsigned bar, uint64_t offset, std::span<const uint8_t> data) = 0;

  // The bus mapped BAR `bar` at `address` (memory decoding on), or unmapped
  // it (nullopt): a device with ioeventfds in the BAR moves them here.
  virtual void bar_mapped(unsigned /*bar*/, std::optional<uint64_t> /*address*/) {}
};

}  // namespace vmhive::pci
