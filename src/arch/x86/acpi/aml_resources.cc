#include "arch/x86/acpi/aml_resources.h"

namespace vmhive::x86::acpi::aml {
namespace {

// Small descriptors (§6.4.2): tag byte = item name << 3 | length of the data.
constexpr uint8_t kIrqNoFlagsTag = 0x04 << 3 | 2;
constexpr uint8_t kIoPortTag = 0x08 << 3 | 7;
constexpr uint8_t kEndTag = 0x0f << 3 | 1;
// Large descriptors (§6.4.3): bit 7 set, item name in bits 6:0, then a
// 16-bit length of the data that follows.
constexpr uint8_t kMemory32FixedTag = 0x86;
constexpr uint8_t kDWordAddressTag = 0x87;
constexpr uint8_t kWordAddressTag = 0x88;
constexpr uint8_t kExtendedInterruptTag = 0x89;
constexpr uint8_t kQWordAddressTag = 0x8a;

// Resource Type of an address space descriptor.
enum class AddressSpace : uint8_t { kMemory = 0, kIo = 1, kBusNumber = 2 };

// General flags: bit 3 _MAF and bit 2 _MIF (both fixed), bit 1 _DEC = 0
// (positive decode), bit 0 consumer (1) or producer (0).
constexpr uint8_t kFixedWindow = 0x0c;
// Type-specific flags: memory bit 0 _RW (read/write), bits 2:1 _MEM; I/O
// bits 1:0 _RNG = 3 (both ISA and non-ISA ranges, "EntireRange").
constexpr uint8_t kMemoryReadWrite = 0x01;
constexpr uint8_t kIoEntireRange = 0x03;

void append_little_endian(Bytes& out, uint64_t value, size_t size) {
  for (size_t i = 0; i < size; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

// A Word, DWord or QWord address space descriptor for a fixed window [min, max].
Bytes address_space(size_t width, AddressSpace space, ResourceUsage usage, uint8_t type_flags, uint64_t min,
                    uint64_t max) {
  uint8_t tag = width == 2 ? kWordAddressTag : width == 4 ? kDWordAddressTag : kQWordAddressTag;
  Bytes out{tag};
  append_little_endian(out, 3 + 5 * width, 2);
  out.push_back(static_cast<uint8_t>(space));
  out.push_back(static_cast<uint8_t>(kFixedWindow | static_cast<uint8_t>(usage)));
  out.push_back(type_flags);
  append_little_endian(out, 0, width);  // _GRA: must be 0 for a fixed window
  append_little_endian(out, min, width);
  append_little_endian(out, max, width);
  append_little_endian(out, 0, width);  // _TRA: no translation between the sides of the bridge
  append_little_endian(out, max - min + 1, width);
  return out;
}

uint8_t memory_flags(MemoryCaching caching) {
  return static_cast<uint8_t>(kMemoryReadWrite | static_cast<uint8_t>(caching) << 1);
}

}  // namespace

Bytes resource_template(const std::vector<Bytes>& descriptors) {
  Bytes contents = term_list(descriptors);
  contents.push_back(kEndTag);
  contents.push_back(0x00);  // checksum 0: the bytes are not checksummed
  return buffer(contents);
}

Bytes io_port(uint16_t base, uint8_t length) {
  Bytes out{kIoPortTag, 0x01};  // information: decodes 16 address bits
  append_little_endian(out, base, 2);  // minimum
  append_little_endian(out, base, 2);  // maximum: the same, so the base is fixed
  out.push_back(1);                    // alignment
  out.push_back(length);
  return out;
}

Bytes irq(uint8_t isa_irq) {
  Bytes out{kIrqNoFlagsTag};
  append_little_endian(out, uint16_t{1} << (isa_irq & 0x0f), 2);  // a mask of IRQs 0-15
  return out;
}

Bytes memory32_fixed(uint32_t base, uint32_t length) {
  Bytes out{kMemory32FixedTag};
  append_little_endian(out, 9, 2);
  out.push_back(0x01);  // writable
  append_little_endian(out, base, 4);
  append_little_endian(out, length, 4);
  return out;
}

Bytes word_bus_number(uint16_t first, uint16_t last, ResourceUsage usage) {
  return address_space(2, AddressSpace::kBusNumber, usage, 0, first, last);
}

Bytes dword_bus_number(uint32_t first, uint32_t last, ResourceUsage usage) {
  return address_space(4, AddressSpace::kBusNumber, usage, 0, first, last);
}

Bytes word_io(uint16_t min, uint16_t max, ResourceUsage usage) {
  return address_space(2, AddressSpace::kIo, usage, kIoEntireRange, min, max);
}

Bytes dword_io(uint32_t min, uint32_t max, ResourceUsage usage) {
  return address_space(4, AddressSpace::kIo, usage, kIoEntireRange, min, max);
}

Bytes dword_memory(uint32_t min, uint32_t max, MemoryCaching caching, ResourceUsage usage) {
  return address_space(4, AddressSpace::kMemory, usage, memory_flags(caching), min, max);
}

Bytes qword_memory(uint64_t min, uint64_t max, MemoryCaching caching, ResourceUsage usage) {
  return address_space(8, AddressSpace::kMemory, usage, memory_flags(caching), min, max);
}

Bytes interrupt(uint32_t gsi, InterruptTrigger trigger, InterruptPolarity polarity, bool shared) {
  Bytes out{kExtendedInterruptTag};
  append_little_endian(out, 2 + 4, 2);  // flags, count, one 32-bit interrupt number
  // Bit 0 consumer, bit 1 _HE (edge), bit 2 _LL (active-low), bit 3 _SHR.
  out.push_back(static_cast<uint8_t>(0x01 | static_cast<uint8_t>(trigger) << 1 |
                                     static_cast<uint8_t>(polarity) << 2 | (shared ? 0x08 : 0x00)));
  out.push_back(1);
  append_little_endian(out, gsi, 4);
  return out;
}

}  // namespace vmhive::x86::acpi::aml
