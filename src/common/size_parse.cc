#include "common/size_parse.h"

#include <cctype>
#include <string>

namespace vmhive {

Result<uint64_t> parse_size(std::string_view text, uint64_t default_unit) {
  const std::string quoted = "'" + std::string(text) + "'";
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0) return make_error("size " + quoted + " does not start with a number (expected e.g. 256M or 2G)");
  if (digits > 19) return make_error("size " + quoted + " is too large");
  uint64_t number = std::stoull(std::string(text.substr(0, digits)));
  std::string suffix(text.substr(digits));
  for (auto& c : suffix) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  uint64_t unit;
  if (suffix.empty()) {
    unit = default_unit;
  } else {
    std::string rest = suffix.substr(1);
    if (!rest.empty() && rest != "B" && rest != "IB")
      return make_error("size " + quoted + " has an unknown unit (use K, M, G or T)");
    switch (suffix[0]) {
      case 'B': unit = rest.empty() ? 1 : 0; break;
      case 'K': unit = 1ull << 10; break;
      case 'M': unit = 1ull << 20; break;
      case 'G': unit = 1ull << 30; break;
      case 'T': unit = 1ull << 40; break;
      default: unit = 0; break;
    }
    if (unit == 0) return make_error("size " + quoted + " has an unknown unit (use K, M, G or T)");
  }
  if (number != 0 && unit > UINT64_MAX / number) return make_error("size " + quoted + " is too large");
  return number * unit;
}

Result<uint64_t> parse_console_limit(std::string_view text) {
  const std::string option = "--console-limit " + std::string(text);
  auto size = parse_size(text, 1);
  if (!size.ok()) return with_context(option, size.error());
  if (*size < 4096) return make_error(option + ": at least 4 KiB");
  return *size;
}

std::string format_size(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (unit < 4 && bytes != 0 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++unit;
  }
  return std::to_string(bytes) + " " + kUnits[unit];
}

}  // namespace vmhive
