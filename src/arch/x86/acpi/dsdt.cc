#include "arch/x86/acpi/dsdt.h"

#include "arch/x86/acpi/aml_resources.h"
#include "devices/legacy/acpi_sleep_control.h"

namespace vmhive::x86::acpi {
namespace {

constexpr uint8_t kDsdtRevision = 2;  // 64-bit AML integers

// \_S5_: Package { SLP_TYPa, SLP_TYPb } (§7.4.2); with hardware-reduced sleep
// registers only the first value is used.
aml::Bytes soft_off_package() {
  return aml::name("\\_S5_", aml::package({aml::integer(devices::AcpiSleepControl::kSoftOffSleepType),
                                           aml::integer(0)}));
}

aml::Bytes com1() {
  return aml::device("COM1", {
                                 aml::name("_HID", aml::eisa_id("PNP0501")),  // 16550A-compatible UART
                                 aml::name("_UID", aml::integer(0)),
                                 aml::name("_CRS", aml::resource_template({aml::io_port(0x3f8, 8), aml::irq(4)})),
                             });
}

aml::Bytes rtc() {
  return aml::device("RTC", {
                                aml::name("_HID", aml::eisa_id("PNP0B00")),  // AT real-time clock
                                aml::name("_CRS", aml::resource_template({aml::io_port(0x70, 2), aml::irq(8)})),
                            });
}

// The i8042 and its keyboard (devices/legacy/i8042.h): listed so that an OS
// finds the controller's ports and IRQ 1 here. Linux's i8042 driver takes
// its interrupt from this _CRS; without the entry it asks for legacy IRQ 1,
// which Linux does not set up on hardware-reduced ACPI (no legacy PIC
// assumed), and the probe fails. No mouse is listed: there is none.
aml::Bytes keyboard() {
  return aml::device("KBD", {
                                aml::name("_HID", aml::eisa_id("PNP0303")),  // IBM enhanced (101/102-key) keyboard
                                aml::name("_CRS", aml::resource_template({aml::io_port(0x60, 1), aml::io_port(0x64, 1),
                                                                          aml::irq(1)})),
                            });
}

}  // namespace

AcpiTable build_dsdt(const DsdtConfig& config) {
  std::vector<aml::Bytes> devices = {com1(), rtc(), keyboard()};
  devices.insert(devices.end(), config.system_bus_devices.begin(), config.system_bus_devices.end());

  std::vector<uint8_t> bytes;
  append_bytes(bytes, make_sdt_header("DSDT", kDsdtRevision));
  aml::Bytes body = aml::term_list({soft_off_package(), aml::scope("\\_SB_", devices)});
  bytes.insert(bytes.end(), body.begin(), body.end());
  AcpiTable table = seal_table(std::move(bytes));
  table.listed_in_xsdt = false;  // reached through the FADT's X_DSDT only
  return table;
}

}  // namespace vmhive::x86::acpi
