// The way in: the Root System Description Pointer (ACPI 6.5 §5.2.5), which
// the guest finds at a fixed address, and the Extended System Description
// Table (§5.2.8) it points to, which lists every other table but the DSDT.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "arch/x86/acpi/sdt.h"

namespace vmhive::x86::acpi {

// ACPI 6.5 §5.2.5.3, the RSDP of ACPI 2.0 and later.
struct [[gnu::packed]] Rsdp {
  char signature[8];  // "RSD PTR "
  uint8_t checksum;   // of the first 20 bytes (the ACPI 1.0 structure)
  char oem_id[6];
  uint8_t revision;  // 2: the XSDT fields are valid
  uint32_t rsdt_address;  // 0: there is no RSDT, only the XSDT
  uint32_t length;        // of this whole structure
  uint64_t xsdt_address;
  uint8_t extended_checksum;  // of the whole structure
  uint8_t reserved[3];
};
static_assert(sizeof(Rsdp) == 36);

inline constexpr size_t kRsdpV1Size = 20;  // the part `checksum` covers

// The RSDP, both checksums set.
Rsdp make_rsdp(uint64_t xsdt_address);

// The XSDT listing the tables at these guest addresses.
AcpiTable build_xsdt(std::span<const uint64_t> table_addresses);

}  // namespace vmhive::x86::acpi
