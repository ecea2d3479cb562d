// How the guest's ACPI tables describe PCI: the host bridge PCI0 in the DSDT
// (PCI Firmware 3.3 §4.1: _HID PNP0A08, _CID PNP0A03, bus 0, the 0xCF8 ports,
// the I/O and 32-bit memory windows it passes on) and the MCFG table that
// gives the ECAM window (§4.1.2). Linux needs both to enumerate the bus with
// ACPI on; a motherboard-resources device (PNP0C02) reserves the ECAM window,
// as Linux checks before it uses it.
#pragma once

#include <cstdint>

#include "arch/x86/acpi/aml.h"
#include "arch/x86/acpi/sdt.h"

namespace vmhive::x86::acpi {

struct PciHostWindows {
  uint64_t ecam_base;
  uint8_t last_bus;             // buses 0..last_bus have ECAM space
  uint32_t memory_window_start;  // 32-bit BARs live in [start, end]
  uint32_t memory_window_end;
};

// \_SB_.PCI0 and \_SB_.MRES (the reserved ECAM window).
std::vector<aml::Bytes> pci_host_devices(const PciHostWindows& windows);

// The MCFG table with one allocation: segment 0, buses 0..last_bus.
AcpiTable build_mcfg(const PciHostWindows& windows);

}  // namespace vmhive::x86::acpi
