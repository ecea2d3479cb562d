// A small encoder for ACPI Machine Language (ACPI 6.5 §20): each function
// returns the bytes of one term, and containers (scope, device, method,
// package) take the bytes of their contents, so a table's namespace reads
// like the ASL it stands for:
//
//   aml::device("COM1", {
//       aml::name("_HID", aml::eisa_id("PNP0501")),
//       aml::name("_CRS", aml::resource_template({aml::io_port(0x3f8, 8), ...})),
//   })
//
// Names and EISA ids written as string literals are checked at compile time;
// names made at run time go through NameString::parse / EisaId::parse.
// Resource descriptors for _CRS are in aml_resources.h.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace vmhive::x86::acpi::aml {

using Bytes = std::vector<uint8_t>;

namespace detail {
// Not constexpr: calling it in a consteval constructor is a compile error
// that points at the bad literal.
inline void invalid_aml_literal() {}
}  // namespace detail

// A NameString (§20.2.2): an optional root '\' or parent '^' prefixes, then
// NameSegs separated by dots, e.g. "_S5_", "\\_SB_.PCI0", "^^CPU0". A
// segment is 1-4 characters (A-Z, 0-9, '_', not starting with a digit) and is
// padded with '_' to four, as ASL does ("PCI" is "PCI_"). "\\" alone is the root.
class NameString {
 public:
  static constexpr size_t kMaxSegments = 8;
  static constexpr size_t kMaxPrefixes = 8;

  consteval NameString(const char* text) {  // NOLINT: implicit, so literals read as names
    if (!encode(text)) detail::invalid_aml_literal();
  }
  static Result<NameString> parse(std::string_view text);

  std::span<const uint8_t> encoded() const { return std::span(bytes_.data(), size_); }

 private:
  constexpr NameString() = default;
  constexpr bool encode(std::string_view text);
  constexpr void push(uint8_t byte) { bytes_[size_++] = byte; }

  // Root or parent prefixes, a multi-name prefix and count, then the segments.
  std::array<uint8_t, kMaxPrefixes + 2 + 4 * kMaxSegments> bytes_{};
  size_t size_ = 0;
};

// A compressed EISA id (the ASL EISAID() macro, ACPI 6.5 §19.6): three
// upper-case letters and four hex digits, e.g. "PNP0A08" is 0x080ad041.
class EisaId {
 public:
  consteval EisaId(const char* text) {  // NOLINT: implicit, so literals read as ids
    if (!encode(text)) detail::invalid_aml_literal();
  }
  static Result<EisaId> parse(std::string_view text);

  uint32_t value() const { return value_; }

 private:
  constexpr EisaId() = default;
  constexpr bool encode(std::string_view text);

  uint32_t value_ = 0;
};

// PkgLength (§20.2.4) for `content_size` bytes that follow it: 1 to 4 bytes,
// the shortest that fits; the encoded length counts its own bytes too.
// Contents must be under 256 MiB (far beyond what fits in the tables area).
Bytes package_length(size_t content_size);

// Data objects (§20.2.3).
Bytes integer(uint64_t value);  // ZeroOp, OneOp, or the shortest Byte/Word/DWord/QWord constant
Bytes string(std::string_view text);  // characters outside 0x01-0x7f become '?'
Bytes eisa_id(EisaId id);  // always a DWord constant, the form iasl emits for EISAID()
Bytes buffer(std::span<const uint8_t> data);
Bytes package(const std::vector<Bytes>& elements);
Bytes reference(const NameString& path);  // a name used as a value (a package element, a Return)

// Namespace modifiers and named objects (§20.2.5.1, §20.2.5.2).
Bytes name(const NameString& path, const Bytes& object);
Bytes scope(const NameString& path, const std::vector<Bytes>& terms);
Bytes device(const NameString& path, const std::vector<Bytes>& terms);
// arg_count is 0-7.
Bytes method(const NameString& path, uint8_t arg_count, bool serialized, const std::vector<Bytes>& terms);

// Statements (§20.2.5.3).
Bytes return_value(const Bytes& value);

// Concatenates terms into one TermList (a table body, a scope's contents).
Bytes term_list(const std::vector<Bytes>& terms);

// ----- compile-time parts of NameString and EisaId -----

constexpr bool NameString::encode(std::string_view text) {
  constexpr uint8_t kRootChar = '\\', kParentPrefixChar = '^';
  constexpr uint8_t kNullName = 0x00, kDualNamePrefix = 0x2e, kMultiNamePrefix = 0x2f;
  auto is_lead = [](char c) { return (c >= 'A' && c <= 'Z') || c == '_'; };
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };

  if (text.empty()) return false;
  if (text.front() == '\\') {
    push(kRootChar);
    text.remove_prefix(1);
  } else {
    while (!text.empty() && text.front() == '^') {
      if (size_ == kMaxPrefixes) return false;
      push(kParentPrefixChar);
      text.remove_prefix(1);
    }
  }
  if (text.empty()) {
    if (size_ == 0 || bytes_[0] != kRootChar) return false;  // only "\\" may name no segment
    push(kNullName);
    return true;
  }

  size_t segment_count = 1;
  for (char c : text) segment_count += c == '.' ? 1 : 0;
  if (segment_count > kMaxSegments) return false;
  if (segment_count == 2) push(kDualNamePrefix);
  if (segment_count > 2) {
    push(kMultiNamePrefix);
    push(static_cast<uint8_t>(segment_count));
  }
  while (true) {
    size_t dot = text.find('.');
    std::string_view segment = text.substr(0, dot);
    if (segment.empty() || segment.size() > 4 || !is_lead(segment[0])) return false;
    for (char c : segment) {
      if (!is_lead(c) && !is_digit(c)) return false;
    }
    for (size_t i = 0; i < 4; ++i) push(static_cast<uint8_t>(i < segment.size() ? segment[i] : '_'));
    if (dot == std::string_view::npos) return true;
    text.remove_prefix(dot + 1);
  }
}

constexpr bool EisaId::encode(std::string_view text) {
  auto hex_digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (text.size() != 7) return false;
  uint32_t big_endian = 0;
  // Three letters of 5 bits each ('A' is 1) in bits 30..16, then four hex digits.
  for (size_t i = 0; i < 3; ++i) {
    if (text[i] < 'A' || text[i] > 'Z') return false;
    big_endian |= static_cast<uint32_t>(text[i] - 'A' + 1) << (26 - 5 * i);
  }
  for (size_t i = 3; i < 7; ++i) {
    int digit = hex_digit(text[i]);
    if (digit < 0) return false;
    big_endian |= static_cast<uint32_t>(digit) << (12 - 4 * (i - 3));
  }
  // The id is stored as bytes in that (big-endian) order; read as a little-endian integer.
  value_ = ((big_endian & 0xff) << 24) | ((big_endian & 0xff00) << 8) | ((big_endian >> 8) & 0xff00) |
           (big_endian >> 24);
  return true;
}

}  // namespace vmhive::x86::acpi::aml
