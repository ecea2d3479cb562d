#include "arch/x86/acpi/aml.h"

#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>

namespace vmhive::x86::acpi::aml {
namespace {

// Opcodes, ACPI 6.5 §20.3 (AML Byte Stream Byte Values).
constexpr uint8_t kZeroOp = 0x00;
constexpr uint8_t kOneOp = 0x01;
constexpr uint8_t kNameOp = 0x08;
constexpr uint8_t kBytePrefix = 0x0a;
constexpr uint8_t kWordPrefix = 0x0b;
constexpr uint8_t kDWordPrefix = 0x0c;
constexpr uint8_t kStringPrefix = 0x0d;
constexpr uint8_t kQWordPrefix = 0x0e;
constexpr uint8_t kScopeOp = 0x10;
constexpr uint8_t kBufferOp = 0x11;
constexpr uint8_t kPackageOp = 0x12;
constexpr uint8_t kVarPackageOp = 0x13;
constexpr uint8_t kMethodOp = 0x14;
constexpr uint8_t kExtOpPrefix = 0x5b;
constexpr uint8_t kDeviceOp = 0x82;  // after ExtOpPrefix
constexpr uint8_t kReturnOp = 0xa4;

void append(Bytes& out, std::span<const uint8_t> bytes) { out.insert(out.end(), bytes.begin(), bytes.end()); }

void append_little_endian(Bytes& out, uint64_t value, size_t size) {
  for (size_t i = 0; i < size; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

// Opcode bytes, then PkgLength over everything after it.
Bytes with_package_length(std::initializer_list<uint8_t> opcode, const Bytes& contents) {
  Bytes out(opcode);
  append(out, package_length(contents.size()));
  append(out, contents);
  return out;
}

}  // namespace

Result<NameString> NameString::parse(std::string_view text) {
  NameString name;
  if (!name.encode(text)) {
    return make_error("\"" + std::string(text) +
                      "\" is no AML name: want segments of 1-4 characters A-Z, 0-9, _ (not starting with a "
                      "digit) joined by '.', optionally after '\\' or '^' prefixes");
  }
  return name;
}

Result<EisaId> EisaId::parse(std::string_view text) {
  EisaId id;
  if (!id.encode(text)) {
    return make_error("\"" + std::string(text) +
                      "\" is no EISA id: want three upper-case letters and four upper-case hex digits, like PNP0A08");
  }
  return id;
}

Bytes package_length(size_t content_size) {
  // One byte holds lengths up to 63 in bits 5:0. Longer ones: bits 7:6 say how
  // many bytes follow (1-3), bits 3:0 hold the low nibble, the bytes the rest.
  if (content_size + 1 <= 0x3f) return {static_cast<uint8_t>(content_size + 1)};
  for (size_t following = 1; following <= 3; ++following) {
    size_t length = content_size + 1 + following;
    if (length >= (size_t{1} << (4 + 8 * following))) continue;
    Bytes out{static_cast<uint8_t>((following << 6) | (length & 0x0f))};
    append_little_endian(out, length >> 4, following);
    return out;
  }
  // Unreachable from the tables: they must fit in kAcpiTablesMaxSize.
  std::fprintf(stderr, "vmhive: AML package of %zu bytes exceeds PkgLength's 256 MiB\n", content_size);
  std::abort();
}

Bytes integer(uint64_t value) {
  if (value == 0) return {kZeroOp};
  if (value == 1) return {kOneOp};
  Bytes out;
  if (value <= 0xff) {
    out.push_back(kBytePrefix);
    append_little_endian(out, value, 1);
  } else if (value <= 0xffff) {
    out.push_back(kWordPrefix);
    append_little_endian(out, value, 2);
  } else if (value <= 0xffffffff) {
    out.push_back(kDWordPrefix);
    append_little_endian(out, value, 4);
  } else {
    out.push_back(kQWordPrefix);
    append_little_endian(out, value, 8);
  }
  return out;
}

Bytes string(std::string_view text) {
  Bytes out{kStringPrefix};
  for (char c : text) {
    auto byte = static_cast<uint8_t>(c);
    out.push_back(byte >= 0x01 && byte <= 0x7f ? byte : '?');  // AsciiCharList, §20.2.3
  }
  out.push_back(0x00);
  return out;
}

Bytes eisa_id(EisaId id) {
  Bytes out{kDWordPrefix};
  append_little_endian(out, id.value(), 4);
  return out;
}

Bytes buffer(std::span<const uint8_t> data) {
  Bytes contents = integer(data.size());  // BufferSize
  append(contents, data);
  return with_package_length({kBufferOp}, contents);
}

Bytes package(const std::vector<Bytes>& elements) {
  Bytes contents;
  // NumElements is one byte; longer packages are VarPackages with a TermArg count.
  if (elements.size() <= 0xff) {
    contents.push_back(static_cast<uint8_t>(elements.size()));
  } else {
    contents = integer(elements.size());
  }
  for (const Bytes& element : elements) append(contents, element);
  return with_package_length({elements.size() <= 0xff ? kPackageOp : kVarPackageOp}, contents);
}

Bytes reference(const NameString& path) { return Bytes(path.encoded().begin(), path.encoded().end()); }

Bytes name(const NameString& path, const Bytes& object) {
  Bytes out{kNameOp};
  append(out, path.encoded());
  append(out, object);
  return out;
}

Bytes scope(const NameString& path, const std::vector<Bytes>& terms) {
  Bytes contents(path.encoded().begin(), path.encoded().end());
  append(contents, term_list(terms));
  return with_package_length({kScopeOp}, contents);
}

Bytes device(const NameString& path, const std::vector<Bytes>& terms) {
  Bytes contents(path.encoded().begin(), path.encoded().end());
  append(contents, term_list(terms));
  return with_package_length({kExtOpPrefix, kDeviceOp}, contents);
}

Bytes method(const NameString& path, uint8_t arg_count, bool serialized, const std::vector<Bytes>& terms) {
  Bytes contents(path.encoded().begin(), path.encoded().end());
  // MethodFlags: bits 2:0 ArgCount (0-7), bit 3 SerializeFlag, bits 7:4 SyncLevel (0).
  contents.push_back(static_cast<uint8_t>((arg_count & 0x07) | (serialized ? 0x08 : 0x00)));
  append(contents, term_list(terms));
  return with_package_length({kMethodOp}, contents);
}

Bytes return_value(const Bytes& value) {
  Bytes out{kReturnOp};
  append(out, value);
  return out;
}

Bytes term_list(const std::vector<Bytes>& terms) {
  Bytes out;
  for (const Bytes& term : terms) append(out, term);
  return out;
}

}  // namespace vmhive::x86::acpi::aml
