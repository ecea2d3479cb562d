// The ACPI tables vmhive writes into guest RAM: where each goes, how they
// point at each other, and the entry point the VMM calls.
//
// Layout, from kAcpiTablesAddress (0xe0000, inside the BIOS area where a
// guest without a boot-info pointer scans for "RSD PTR "): the RSDP, then
// each table 16-byte aligned — FADT, DSDT, MADT, extras — then the XSDT.
#pragma once

#include <cstdint>
#include <vector>

#include "arch/x86/acpi/aml.h"
#include "arch/x86/acpi/sdt.h"
#include "common/result.h"
#include "memory/guest_memory.h"

namespace vmhive::x86::acpi {

inline constexpr uint32_t kMaxCpus = 254;  // 8-bit APIC ids, and the IOAPIC takes the next one

struct AcpiConfig {
  uint32_t cpu_count = 1;
  std::vector<aml::Bytes> extra_devices;  // more \_SB_ children (a PCI host bridge)
  std::vector<AcpiTable> extra_tables;    // more tables for the XSDT (an MCFG)
};

// The finished tables as they will sit in guest memory.
struct TablesImage {
  uint64_t base;              // guest address of bytes[0], where the RSDP is
  std::vector<uint8_t> bytes;
};

// Builds and lays out every table at `base`: links resolved, checksums valid.
Result<TablesImage> lay_out_tables(const AcpiConfig& config, uint64_t base);

// Writes the tables at kAcpiTablesAddress and returns the RSDP's address.
Result<uint64_t> write_tables(const GuestMemory& memory, const AcpiConfig& config);

}  // namespace vmhive::x86::acpi
