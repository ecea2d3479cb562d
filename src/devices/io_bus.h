// The x86 I/O port space: which device answers which port.
//
// The bus is filled once while the VM is assembled and is only read after the
// vCPUs start, so lookups from several vCPU threads need no lock here; each
// device guards its own state.
#pragma once

#include <cstdint>
#include <span>

#include "common/result.h"
#include "devices/range_map.h"

namespace vmhive {

// A device on the I/O port space. `offset` counts from the base port the
// device was added at; accesses are 1, 2 or 4 bytes (little-endian, so
// data[0] belongs to the port at `offset`).
class PioDevice {
 public:
  virtual ~PioDevice() = default;
  virtual void read(uint16_t offset, std::span<uint8_t> data) = 0;
  virtual void write(uint16_t offset, std::span<const uint8_t> data) = 0;
};

class IoBus {
 public:
  // Claims ports [base, base + length) for `device`, which must outlive the
  // bus. Fails on a zero length, a range past port 0xffff, a null device or
  // an overlap with a range already claimed.
  Result<void> add(uint16_t base, uint16_t length, PioDevice* device);

  // An access that lies wholly inside one device's range reaches that device
  // as one call. Any other access (straddling the end of a range, or
  // touching unclaimed ports) is split into single-byte accesses, each
  // routed on its own, as the chipset splits a wide cycle for 8-bit ISA
  // devices. Unclaimed ports read as all ones and ignore writes.
  void read(uint16_t port, std::span<uint8_t> data) const;
  void write(uint16_t port, std::span<const uint8_t> data) const;

 private:
  RangeMap<uint16_t, PioDevice> ports_{"I/O port"};
};

}  // namespace vmhive
