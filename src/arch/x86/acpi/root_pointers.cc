#include "arch/x86/acpi/root_pointers.h"

#include <cstring>

namespace vmhive::x86::acpi {
namespace {

constexpr uint8_t kRsdpRevision = 2;  // ACPI 2.0 and later
constexpr uint8_t kXsdtRevision = 1;  // §5.2.8

}  // namespace

Rsdp make_rsdp(uint64_t xsdt_address) {
  Rsdp rsdp{};
  std::memcpy(rsdp.signature, "RSD PTR ", sizeof(rsdp.signature));
  std::memcpy(rsdp.oem_id, kOemId, sizeof(rsdp.oem_id));
  rsdp.revision = kRsdpRevision;
  rsdp.rsdt_address = 0;
  rsdp.length = sizeof(Rsdp);
  rsdp.xsdt_address = xsdt_address;

  auto* bytes = reinterpret_cast<uint8_t*>(&rsdp);
  update_checksum(std::span(bytes, kRsdpV1Size), offsetof(Rsdp, checksum));
  update_checksum(std::span(bytes, sizeof(Rsdp)), offsetof(Rsdp, extended_checksum));
  return rsdp;
}

AcpiTable build_xsdt(std::span<const uint64_t> table_addresses) {
  std::vector<uint8_t> bytes;
  append_bytes(bytes, make_sdt_header("XSDT", kXsdtRevision));
  // Entries are 64-bit addresses at offset 36: not 8-byte aligned, so copied as bytes.
  for (uint64_t address : table_addresses) append_bytes(bytes, address);
  return seal_table(std::move(bytes));
}

}  // namespace vmhive::x86::acpi
