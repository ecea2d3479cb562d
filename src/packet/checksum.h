// The Internet checksum (RFC 1071) over bytes, and its update when a field
// it covers changes (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')), so a
// rewritten address costs a few additions instead of a pass over the data.
// Checksums are handled as they sit in a header: 16-bit big-endian values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace vmhive::packet {

// The one's-complement sum of `bytes` as big-endian 16-bit words (an odd
// last byte padded with zero), folded to 16 bits, added to `initial`.
uint32_t ones_sum(std::span<const uint8_t> bytes, uint32_t initial = 0);
// ~fold(sum): the checksum to store, or 0 when a header over which it was
// computed (checksum field included) is intact.
uint16_t finish_checksum(uint32_t sum);

// The checksum after a 16-bit word it covers went from `old_word` to `new_word`.
uint16_t update_checksum16(uint16_t checksum, uint16_t old_word, uint16_t new_word);
// The same for a 32-bit value (an IPv4 address), taken as two words.
uint16_t update_checksum32(uint16_t checksum, uint32_t old_value, uint32_t new_value);

}  // namespace vmhive::packet
