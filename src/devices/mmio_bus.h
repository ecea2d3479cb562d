// The guest-physical MMIO space outside RAM: which device answers which
// address (the PCI ECAM window, PCI BARs).
//
// Unlike the port bus, this one changes while vCPUs run: a guest moves a BAR
// by writing its configuration space, from any vCPU thread. Lookups take a
// shared lock and changes an exclusive one; devices guard their own state.
#pragma once

#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <span>

#include "common/result.h"
#include "devices/range_map.h"

namespace vmhive {

// A device on the MMIO space. `offset` counts from the base the device was
// added at; accesses are 1 to 8 bytes, little-endian.
class MmioDevice {
 public:
  virtual ~MmioDevice() = default;
  virtual void read(uint64_t offset, std::span<uint8_t> data) = 0;
  virtual void write(uint64_t offset, std::span<const uint8_t> data) = 0;
};

class MmioBus {
 public:
  // Claims [base, base + length) for `device`, which must outlive the bus
  // (a vCPU may still be calling it just after its range is removed).
  // Fails on a zero length, a range past the top of the 64-bit space, a null
  // device or an overlap.
  Result<void> add(uint64_t base, uint64_t length, MmioDevice* device);

  // Releases the range that starts at `base` and belongs to `device`; false
  // when there is none (nothing changes then).
  bool remove(uint64_t base, MmioDevice* device);

  // An access wholly inside one range reaches its device as one call; any
  // other access (unclaimed, or straddling a range's end) reads all ones and
  // writes nothing, as on a bus where no device claims the cycle.
  void read(uint64_t address, std::span<uint8_t> data) const;
  void write(uint64_t address, std::span<const uint8_t> data) const;

 private:
  using Ranges = RangeMap<uint64_t, MmioDevice>;

  // A copy of the range wholly holding [address, address + length), if any.
  std::optional<Ranges::Range> find(uint64_t address, uint64_t length) const;

  mutable std::shared_mutex lock_;
  Ranges ranges_{"MMIO"};
};

}  // namespace vmhive
