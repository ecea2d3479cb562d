#include "arch/x86/acpi/acpi_tables.h"

#include <cstring>
#include <string>

#include "arch/x86/acpi/dsdt.h"
#include "arch/x86/acpi/fadt.h"
#include "arch/x86/acpi/madt.h"
#include "arch/x86/acpi/root_pointers.h"
#include "arch/x86/layout.h"

namespace vmhive::x86::acpi {
namespace {

constexpr size_t kTableAlignment = 16;

size_t align_up(size_t value) { return (value + kTableAlignment - 1) & ~(kTableAlignment - 1); }

struct PlacedTable {
  AcpiTable table;
  uint64_t address;
};

// Fills each table's links with the address of the table they name, then
// checksums the table again.
Result<void> resolve_links(std::vector<PlacedTable>& placed) {
  for (auto& each : placed) {
    if (each.table.links.empty()) continue;
    for (const auto& link : each.table.links) {
      const PlacedTable* target = nullptr;
      for (const auto& candidate : placed) {
        if (candidate.table.signature() == link.target_signature) target = &candidate;
      }
      if (target == nullptr) return make_error("ACPI: no " + link.target_signature + " table for a link");
      if (link.offset + sizeof(uint64_t) > each.table.bytes.size()) return make_error("ACPI: link outside its table");
      std::memcpy(each.table.bytes.data() + link.offset, &target->address, sizeof(uint64_t));
    }
    update_checksum(each.table.bytes, offsetof(SdtHeader, checksum));
  }
  return {};
}

}  // namespace

Result<TablesImage> lay_out_tables(const AcpiConfig& config, uint64_t base) {
  if (config.cpu_count == 0 || config.cpu_count > kMaxCpus) {
    return make_error("ACPI: " + std::to_string(config.cpu_count) + " CPUs cannot be described (1 to " +
                      std::to_string(kMaxCpus) + ")");
  }
  std::vector<PlacedTable> placed;
  placed.push_back({build_fadt(), 0});
  placed.push_back({build_dsdt(DsdtConfig{config.extra_devices}), 0});
  placed.push_back({build_madt(config.cpu_count), 0});
  for (const auto& extra : config.extra_tables) placed.push_back({extra, 0});

  size_t offset = align_up(sizeof(Rsdp));
  std::vector<uint64_t> xsdt_entries;
  for (auto& each : placed) {
    each.address = base + offset;
    offset = align_up(offset + each.table.bytes.size());
    if (each.table.listed_in_xsdt) xsdt_entries.push_back(each.address);
  }
  VMHIVE_CHECK(resolve_links(placed));
  const uint64_t xsdt_address = base + offset;
  AcpiTable xsdt = build_xsdt(xsdt_entries);
  const size_t total = offset + xsdt.bytes.size();
  if (total > kAcpiTablesMaxSize) {
    return make_error("ACPI: the tables need " + std::to_string(total) + " bytes, more than the " +
                      std::to_string(kAcpiTablesMaxSize) + " reserved for them");
  }

  TablesImage image{base, std::vector<uint8_t>(total, 0)};
  Rsdp rsdp = make_rsdp(xsdt_address);
  std::memcpy(image.bytes.data(), &rsdp, sizeof rsdp);
  for (const auto& each : placed) {
    std::memcpy(image.bytes.data() + (each.address - base), each.table.bytes.data(), each.table.bytes.size());
  }
  std::memcpy(image.bytes.data() + (xsdt_address - base), xsdt.bytes.data(), xsdt.bytes.size());
  return image;
}

Result<uint64_t> write_tables(const GuestMemory& memory, const AcpiConfig& config) {
  TablesImage image = VMHIVE_TRY(lay_out_tables(config, kAcpiTablesAddress));
  auto written = memory.write(image.base, image.bytes);
  if (!written.ok()) return with_context("writing the ACPI tables", written.error());
  return image.base;
}

}  // namespace vmhive::x86::acpi
