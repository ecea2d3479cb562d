// A PCI type-0 configuration header (PCI Local Bus 3.0 §6.1) with its
// capability list: 256 bytes, and beside each byte the bits a driver may
// change. Everything else a driver writes is dropped, which is also how BAR
// sizing works: a BAR's low address bits are read-only zeros, so writing all
// ones reads back as the size mask.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "common/result.h"

namespace vmhive::pci {

inline constexpr uint16_t kConfigSpaceSize = 256;  // what a type-0 function implements; ECAM reads 0 above
inline constexpr unsigned kBarCount = 6;

// Header offsets (§6.1).
inline constexpr uint16_t kVendorId = 0x00;
inline constexpr uint16_t kDeviceId = 0x02;
inline constexpr uint16_t kCommand = 0x04;
inline constexpr uint16_t kStatus = 0x06;
inline constexpr uint16_t kRevisionId = 0x08;
inline constexpr uint16_t kClassCode = 0x09;  // prog-if, subclass, base class
inline constexpr uint16_t kHeaderType = 0x0e;
inline constexpr uint16_t kBar0 = 0x10;
inline constexpr uint16_t kSubsystemVendorId = 0x2c;
inline constexpr uint16_t kSubsystemId = 0x2e;
inline constexpr uint16_t kCapabilitiesPointer = 0x34;
inline constexpr uint16_t kInterruptLine = 0x3c;
inline constexpr uint16_t kInterruptPin = 0x3d;

inline constexpr uint16_t kCommandIoSpace = 1u << 0;
inline constexpr uint16_t kCommandMemorySpace = 1u << 1;
inline constexpr uint16_t kCommandBusMaster = 1u << 2;
inline constexpr uint16_t kCommandIntxDisable = 1u << 10;
inline constexpr uint16_t kStatusCapabilitiesList = 1u << 4;

struct DeviceIdentity {
  uint16_t vendor_id;
  uint16_t device_id;
  uint32_t class_code;  // base class << 16 | subclass << 8 | prog-if
  uint8_t revision;
  uint16_t subsystem_vendor_id;
  uint16_t subsystem_id;
};

class ConfigSpace {
 public:
  explicit ConfigSpace(const DeviceIdentity& identity);

  // A memory BAR of `size` bytes (a power of two, at least 4 KiB so that a
  // BAR never shares a page). A 64-bit BAR also takes register index + 1.
  Result<void> add_memory_bar(unsigned index, uint64_t size, bool is_64bit, bool prefetchable);

  // Appends a capability (§6.7): `body` is everything after the ID and next
  // pointer; `writable` (same length, or empty for read-only) marks the bits a
  // driver may change. Returns the capability's offset.
  Result<uint8_t> add_capability(uint8_t id, std::span<const uint8_t> body, std::span<const uint8_t> writable = {});

  // Accesses from the driver. Offsets at or past 256 read as zero and ignore
  // writes; an access must not cross the end (callers split at the dword).
  void read(uint16_t offset, std::span<uint8_t> data) const;
  void write(uint16_t offset, std::span<const uint8_t> data);

  // Device-side access, bypassing the write masks (a device updating its own
  // read-only registers, such as a capability's status).
  uint32_t read32(uint16_t offset) const;
  uint16_t read16(uint16_t offset) const;
  void set16(uint16_t offset, uint16_t value);

  // Snapshots: the 256 bytes as they are, and putting them back. restore()
  // refuses bytes whose read-only bits differ from this device's (another
  // device, another layout): only what a driver could have written may differ.
  const std::array<uint8_t, kConfigSpaceSize>& bytes() const { return bytes_; }
  Result<void> restore(std::span<const uint8_t> bytes);
  // Whether restore() would take `bytes`: nothing changes.
  Result<void> check_restore(std::span<const uint8_t> bytes) const;

  uint16_t command() const { return read16(kCommand); }
  uint64_t bar_size(unsigned index) const { return index < kBarCount ? bar_sizes_[index] : 0; }
  // The address the driver programmed into a BAR (flag bits removed).
  uint64_t bar_address(unsigned index) const;

 private:
  std::array<uint8_t, kConfigSpaceSize> bytes_{};
  std::array<uint8_t, kConfigSpaceSize> writable_{};
  std::array<uint64_t, kBarCount> bar_sizes_{};
  std::array<bool, kBarCount> bar_is_64bit_{};
  std::array<bool, kBarCount> bar_is_upper_half_{};
  uint16_t next_capability_ = 0x40;  // where the next capability goes (dword aligned)
  uint8_t last_capability_ = 0;     // offset of the list's tail, 0 when empty
};

}  // namespace vmhive::pci
