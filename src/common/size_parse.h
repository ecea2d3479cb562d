// Parses human sizes such as "256M", "3G", "1536MiB", "4096K".
#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"

namespace vmhive {

// A bare number is taken in `default_unit` bytes (MiB for --mem, as QEMU's -m).
// Suffixes K, M, G, T (optionally followed by "iB" or "B") are binary units.
Result<uint64_t> parse_size(std::string_view text, uint64_t default_unit);

// A --console-limit: a size (K, M, G suffixes; a bare number is bytes), at least 4 KiB.
Result<uint64_t> parse_console_limit(std::string_view text);

// "256 MiB", "3 GiB", "1536 KiB": the largest unit that divides exactly.
std::string format_size(uint64_t bytes);

}  // namespace vmhive
