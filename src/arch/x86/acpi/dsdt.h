// The Differentiated System Description Table (ACPI 6.5 §5.2.11.1): the AML
// namespace. It holds \_S5_ (how to power off through the sleep control
// register) and, under \_SB_, the ISA devices the guest cannot probe for
// (COM1 and the RTC). Later devices (a PCI host bridge) are passed in as
// more \_SB_ children.
#pragma once

#include <vector>

#include "arch/x86/acpi/aml.h"
#include "arch/x86/acpi/sdt.h"

namespace vmhive::x86::acpi {

struct DsdtConfig {
  std::vector<aml::Bytes> system_bus_devices;  // added to \_SB_ after the built-in devices
};

AcpiTable build_dsdt(const DsdtConfig& config);

}  // namespace vmhive::x86::acpi
