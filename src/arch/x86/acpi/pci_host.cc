#include "arch/x86/acpi/pci_host.h"

#include "arch/x86/acpi/aml_resources.h"

namespace vmhive::x86::acpi {
namespace {

constexpr uint8_t kMcfgRevision = 1;

#pragma pack(push, 1)
struct McfgAllocation {
  uint64_t base;
  uint16_t segment;
  uint8_t first_bus;
  uint8_t last_bus;
  uint32_t reserved;
};
#pragma pack(pop)
static_assert(sizeof(McfgAllocation) == 16);

}  // namespace

std::vector<aml::Bytes> pci_host_devices(const PciHostWindows& windows) {
  const uint32_t ecam_bytes = (uint32_t{windows.last_bus} + 1) << 20;
  aml::Bytes host = aml::device(
      "PCI0", {
                  aml::name("_HID", aml::eisa_id("PNP0A08")),  // PCI Express root bridge
                  aml::name("_CID", aml::eisa_id("PNP0A03")),  // PCI root bridge
                  aml::name("_SEG", aml::integer(0)),
                  aml::name("_BBN", aml::integer(0)),
                  aml::name("_UID", aml::integer(0)),
                  aml::name("_CRS", aml::resource_template({
                                        aml::word_bus_number(0, windows.last_bus),
                                        aml::io_port(0xcf8, 8),
                                        aml::word_io(0x0000, 0x0cf7),
                                        aml::word_io(0x0d00, 0xffff),
                                        aml::dword_memory(windows.memory_window_start, windows.memory_window_end,
                                                          aml::MemoryCaching::kNonCacheable),
                                    })),
              });
  aml::Bytes reserved = aml::device(
      "MRES", {
                  aml::name("_HID", aml::eisa_id("PNP0C02")),  // motherboard resources
                  aml::name("_UID", aml::integer(1)),
                  aml::name("_CRS", aml::resource_template({aml::memory32_fixed(
                                        static_cast<uint32_t>(windows.ecam_base), ecam_bytes)})),
              });
  return {host, reserved};
}

AcpiTable build_mcfg(const PciHostWindows& windows) {
  std::vector<uint8_t> bytes;
  append_bytes(bytes, make_sdt_header("MCFG", kMcfgRevision));
  append_bytes(bytes, uint64_t{0});  // reserved
  append_bytes(bytes, McfgAllocation{windows.ecam_base, 0, 0, windows.last_bus, 0});
  return seal_table(std::move(bytes));
}

}  // namespace vmhive::x86::acpi
