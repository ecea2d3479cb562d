// One way to print numbers in hex in messages: "0x1f", "0x1000-0x1fff".
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace vmhive {

inline std::string hex(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

// The inclusive range [first, first + length): "0x3f8-0x3ff".
inline std::string hex_range(uint64_t first, uint64_t length) {
  return hex(first) + "-" + hex(length == 0 ? first : first + (length - 1));
}

// Exactly `digits` hex digits, zero-padded, no prefix: hex_digits(0x0f, 2) is "0f".
inline std::string hex_digits(uint64_t value, int digits) {
  char text[24];
  std::snprintf(text, sizeof text, "%0*llx", digits, static_cast<unsigned long long>(value));
  return text;
}

}  // namespace vmhive
