#include "arch/x86/acpi/sdt.h"

#include <cstring>

namespace vmhive::x86::acpi {

GenericAddress io_port_register(uint16_t port) {
  return GenericAddress{.address_space_id = 1, .register_bit_width = 8, .register_bit_offset = 0,
                        .access_size = 1, .address = port};
}

SdtHeader make_sdt_header(const char (&signature)[5], uint8_t revision) {
  SdtHeader header{};
  std::memcpy(header.signature, signature, sizeof(header.signature));
  header.revision = revision;
  std::memcpy(header.oem_id, kOemId, sizeof(header.oem_id));
  std::memcpy(header.oem_table_id, kOemTableId, sizeof(header.oem_table_id));
  header.oem_revision = kOemRevision;
  std::memcpy(header.creator_id, kCreatorId, sizeof(header.creator_id));
  header.creator_revision = kCreatorRevision;
  return header;
}

std::string_view AcpiTable::signature() const {
  if (bytes.size() < sizeof(SdtHeader::signature)) return {};
  return std::string_view(reinterpret_cast<const char*>(bytes.data()), sizeof(SdtHeader::signature));
}

AcpiTable seal_table(std::vector<uint8_t> bytes) {
  uint32_t length = static_cast<uint32_t>(bytes.size());
  std::memcpy(bytes.data() + offsetof(SdtHeader, length), &length, sizeof(length));
  update_checksum(bytes, offsetof(SdtHeader, checksum));
  return AcpiTable{.bytes = std::move(bytes), .listed_in_xsdt = true, .links = {}};
}

uint8_t byte_sum(std::span<const uint8_t> bytes) {
  uint8_t sum = 0;
  for (uint8_t byte : bytes) sum = static_cast<uint8_t>(sum + byte);
  return sum;
}

void update_checksum(std::span<uint8_t> bytes, size_t checksum_offset) {
  bytes[checksum_offset] = 0;
  bytes[checksum_offset] = static_cast<uint8_t>(0x100 - byte_sum(bytes));
}

}  // namespace vmhive::x86::acpi
