// What every ACPI system description table shares (ACPI 6.5 §5.2.6): the
// 36-byte header and its checksum, the Generic Address Structure, and a
// finished table as bytes that the placement (placement.h) puts in guest RAM.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace vmhive::x86::acpi {

// Who made the tables: every header says so, and so does the RSDP.
inline constexpr char kOemId[] = "VMHIVE";         // 6 characters
inline constexpr char kOemTableId[] = "VMHIVEVM";  // 8 characters
inline constexpr uint32_t kOemRevision = 1;
inline constexpr char kCreatorId[] = "VMHV";  // the "ASL compiler" field: we are the compiler
inline constexpr uint32_t kCreatorRevision = 1;

// ACPI 6.5 §5.2.6, the System Description Table Header.
struct [[gnu::packed]] SdtHeader {
  char signature[4];
  uint32_t length;  // of the whole table, this header included
  uint8_t revision;
  uint8_t checksum;  // makes all of the table's bytes sum to 0 (mod 256)
  char oem_id[6];
  char oem_table_id[8];
  uint32_t oem_revision;
  char creator_id[4];
  uint32_t creator_revision;
};
static_assert(sizeof(SdtHeader) == 36);

// ACPI 6.5 §5.2.3.2, the Generic Address Structure (how a table names a register).
struct [[gnu::packed]] GenericAddress {
  uint8_t address_space_id;  // 0 system memory, 1 system I/O
  uint8_t register_bit_width;
  uint8_t register_bit_offset;
  uint8_t access_size;  // 0 undefined, 1 byte, 2 word, 3 dword, 4 qword
  uint64_t address;
};
static_assert(sizeof(GenericAddress) == 12);

// An 8-bit register in I/O port space, accessed a byte at a time.
GenericAddress io_port_register(uint16_t port);

// A header carrying our OEM and creator fields; seal_table() sets its length and checksum.
SdtHeader make_sdt_header(const char (&signature)[5], uint8_t revision);

// A 64-bit field of one table that holds another table's guest address (the
// FADT's X_DSDT). Tables are built before their addresses are known; the
// placement fills these in and checksums the table again.
struct TableLink {
  size_t offset;
  std::string target_signature;
};

// A finished table: header and body, length and checksum valid.
struct AcpiTable {
  std::vector<uint8_t> bytes;
  bool listed_in_xsdt = true;  // false for the DSDT, which only the FADT points to
  std::vector<TableLink> links;

  std::string_view signature() const;
};

// Sets the header's length to bytes.size() and fixes its checksum. `bytes`
// must begin with an SdtHeader (from make_sdt_header).
AcpiTable seal_table(std::vector<uint8_t> bytes);

// The sum of the bytes, mod 256: 0 for a table with a valid checksum.
uint8_t byte_sum(std::span<const uint8_t> bytes);

// Rewrites bytes[checksum_offset] so that all of `bytes` sums to 0 (mod 256).
void update_checksum(std::span<uint8_t> bytes, size_t checksum_offset);

// Appends the bytes of a packed hardware structure.
template <class T>
void append_bytes(std::vector<uint8_t>& out, const T& value) {
  static_assert(std::is_trivially_copyable_v<T>);
  const auto* first = reinterpret_cast<const uint8_t*>(&value);
  out.insert(out.end(), first, first + sizeof(T));
}

}  // namespace vmhive::x86::acpi
