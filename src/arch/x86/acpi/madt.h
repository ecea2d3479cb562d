// The Multiple APIC Description Table (ACPI 6.5 §5.2.12): the CPUs (one
// local APIC each), the I/O APIC, and how ISA IRQs map onto its inputs.
// Debian's cloud kernel has no MP-table support, so this is how it finds
// its CPUs.
#pragma once

#include <cstdint>

#include "arch/x86/acpi/sdt.h"

namespace vmhive::x86::acpi {

// Local APIC ids are 0..cpu_count-1 (the vCPU indices); the I/O APIC takes id cpu_count.
// cpu_count must be 1-254 (write_tables checks).
AcpiTable build_madt(uint32_t cpu_count);

}  // namespace vmhive::x86::acpi
