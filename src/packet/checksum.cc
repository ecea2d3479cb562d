#include "packet/checksum.h"

namespace vmhive::packet {
namespace {

uint32_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}

}  // namespace

uint32_t ones_sum(std::span<const uint8_t> bytes, uint32_t initial) {
  uint64_t sum = initial;
  size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2) sum += static_cast<uint32_t>(bytes[i]) << 8 | bytes[i + 1];
  if (i < bytes.size()) sum += static_cast<uint32_t>(bytes[i]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint32_t>(sum);
}

uint16_t finish_checksum(uint32_t sum) { return static_cast<uint16_t>(~fold(sum) & 0xffff); }

uint16_t update_checksum16(uint16_t checksum, uint16_t old_word, uint16_t new_word) {
  const uint32_t sum = static_cast<uint32_t>(static_cast<uint16_t>(~checksum)) +
                       static_cast<uint16_t>(~old_word) + new_word;
  return static_cast<uint16_t>(~fold(sum) & 0xffff);
}

uint16_t update_checksum32(uint16_t checksum, uint32_t old_value, uint32_t new_value) {
  checksum = update_checksum16(checksum, static_cast<uint16_t>(old_value >> 16), static_cast<uint16_t>(new_value >> 16));
  return update_checksum16(checksum, static_cast<uint16_t>(old_value), static_cast<uint16_t>(new_value));
}

}  // namespace vmhive::packet
