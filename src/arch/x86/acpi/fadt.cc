#include "arch/x86/acpi/fadt.h"

#include <cstring>
#include <vector>

namespace vmhive::x86::acpi {
namespace {

constexpr uint8_t kFadtRevision = 6;
constexpr uint8_t kFadtMinorVersion = 5;  // ACPI 6.5

// Linux (arch/x86/kernel/acpi/boot.c) reads these: with the 8042 bit clear it
// would not probe the i8042, with CMOS RTC Not Present it would not register
// the RTC. We have both, and ISA devices (COM1, RTC) described in the DSDT;
// there is no VGA, and MSI stays allowed for PCI devices to come.
constexpr uint16_t kBootArchFlags = kBootArchLegacyDevices | kBootArch8042 | kBootArchVgaNotPresent;

}  // namespace

AcpiTable build_fadt() {
  Fadt fadt{};
  fadt.header = make_sdt_header("FACP", kFadtRevision);
  fadt.fadt_minor_version = kFadtMinorVersion;
  fadt.flags = kFadtHwReducedAcpi;
  fadt.iapc_boot_arch = kBootArchFlags;
  // DSDT (32-bit) stays 0: X_DSDT is set, and OSPM must then ignore DSDT.
  fadt.sleep_control_reg = io_port_register(kSleepControlPort);
  fadt.sleep_status_reg = io_port_register(kSleepStatusPort);
  std::memcpy(fadt.hypervisor_vendor_identity, "VMHIVE  ", sizeof(fadt.hypervisor_vendor_identity));

  std::vector<uint8_t> bytes;
  append_bytes(bytes, fadt);
  AcpiTable table = seal_table(std::move(bytes));
  table.links.push_back({offsetof(Fadt, x_dsdt), "DSDT"});
  return table;
}

}  // namespace vmhive::x86::acpi
