// Resource descriptors (ACPI 6.5 §6.4) for a device's _CRS: each function
// returns one descriptor, and resource_template() makes the Buffer that holds
// them, ended by an End Tag.
//
//   aml::name("_CRS", aml::resource_template({
//       aml::word_bus_number(0x00, 0xff),
//       aml::word_io(0x0000, 0x0cf7),
//       aml::dword_memory(0xc0000000, 0xfebfffff, aml::MemoryCaching::kNonCacheable),
//   }))
//
// The address space descriptors describe fixed windows (_MIF and _MAF set,
// granularity 0, length max - min + 1), the only kind a VMM needs.
#pragma once

#include <cstdint>
#include <vector>

#include "arch/x86/acpi/aml.h"

namespace vmhive::x86::acpi::aml {

// A bridge's window that it passes on to the devices behind it (a PCI host
// bridge's bus range and apertures), or a range the device itself decodes.
enum class ResourceUsage : uint8_t { kProducer = 0, kConsumer = 1 };

// _MEM, §6.4.3.5.5 (Memory Resource Flag).
enum class MemoryCaching : uint8_t { kNonCacheable = 0, kCacheable = 1, kWriteCombining = 2, kPrefetchable = 3 };

enum class InterruptTrigger : uint8_t { kLevel = 0, kEdge = 1 };
enum class InterruptPolarity : uint8_t { kActiveHigh = 0, kActiveLow = 1 };

// A ResourceTemplate(): a Buffer of the descriptors and an End Tag
// (§6.4.2.9) whose checksum is 0, meaning "not checksummed".
Bytes resource_template(const std::vector<Bytes>& descriptors);

// I/O port descriptor (§6.4.2.5) for `length` ports at a fixed 16-bit-decoded base.
Bytes io_port(uint16_t base, uint8_t length);

// IRQ descriptor without flags (§6.4.2.1): one ISA IRQ (0-15), edge-triggered, active-high.
Bytes irq(uint8_t isa_irq);

// 32-bit fixed memory range descriptor (§6.4.3.4), read/write.
Bytes memory32_fixed(uint32_t base, uint32_t length);

// Address space descriptors (§6.4.3.5.1 QWord, §6.4.3.5.2 DWord, §6.4.3.5.3 Word).
Bytes word_bus_number(uint16_t first, uint16_t last, ResourceUsage usage = ResourceUsage::kProducer);
Bytes dword_bus_number(uint32_t first, uint32_t last, ResourceUsage usage = ResourceUsage::kProducer);
Bytes word_io(uint16_t min, uint16_t max, ResourceUsage usage = ResourceUsage::kProducer);
Bytes dword_io(uint32_t min, uint32_t max, ResourceUsage usage = ResourceUsage::kProducer);
Bytes dword_memory(uint32_t min, uint32_t max, MemoryCaching caching,
                   ResourceUsage usage = ResourceUsage::kProducer);
Bytes qword_memory(uint64_t min, uint64_t max, MemoryCaching caching,
                   ResourceUsage usage = ResourceUsage::kProducer);

// Extended interrupt descriptor (§6.4.3.6) for one GSI the device consumes.
Bytes interrupt(uint32_t gsi, InterruptTrigger trigger, InterruptPolarity polarity, bool shared = false);

}  // namespace vmhive::x86::acpi::aml
