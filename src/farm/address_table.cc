#include "farm/address_table.h"

#include <charconv>
#include <string>

namespace vmhive::farm {

Result<uint32_t> parse_ipv4(std::string_view text) {
  uint32_t address = 0;
  const char* at = text.data();
  const char* end = text.data() + text.size();
  for (int part = 0; part < 4; ++part) {
    unsigned byte = 0;
    const auto [next, error] = std::from_chars(at, end, byte);
    if (error != std::errc() || next == at || next - at > 3 || byte > 255)
      return make_error("'" + std::string(text) + "' is not an IPv4 address like 10.0.0.1");
    address = address << 8 | byte;
    at = next;
    if (part < 3) {
      if (at == end || *at != '.') return make_error("'" + std::string(text) + "' is not an IPv4 address like 10.0.0.1");
      ++at;
    }
  }
  if (at != end) return make_error("'" + std::string(text) + "' is not an IPv4 address like 10.0.0.1");
  return address;
}

std::string ipv4_text(uint32_t address) {
  return std::to_string(address >> 24) + "." + std::to_string((address >> 16) & 255) + "." +
         std::to_string((address >> 8) & 255) + "." + std::to_string(address & 255);
}

Result<AddressRange> AddressRange::parse(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return make_error("'" + std::string(text) + "' is not a prefix like 10.0.0.0/16");
  AddressRange range;
  range.base = VMHIVE_TRY(parse_ipv4(text.substr(0, slash)));
  const std::string_view length = text.substr(slash + 1);
  const auto [end, error] = std::from_chars(length.data(), length.data() + length.size(), range.prefix_length);
  if (error != std::errc() || end != length.data() + length.size() || length.empty() || range.prefix_length > 32)
    return make_error("'" + std::string(text) + "': the prefix length must be 16 to 32");
  if (range.prefix_length < kShortestPrefix)
    return make_error("'" + std::string(text) + "': at most a /16 (65,536 addresses) per farm");
  const uint32_t host_bits = range.prefix_length == 32 ? 0 : (uint32_t{1} << (32 - range.prefix_length)) - 1;
  if ((range.base & host_bits) != 0)
    return make_error("'" + std::string(text) + "': the address has host bits set (did you mean " +
                      ipv4_text(range.base & ~host_bits) + "/" + std::to_string(range.prefix_length) + "?)");
  return range;
}

bool AddressRange::contains(uint32_t address) const {
  const uint32_t mask = prefix_length == 0 ? 0 : ~uint32_t{0} << (32 - prefix_length);
  return (address & mask) == base;
}

const Binding* AddressTable::touch(uint32_t address, Clock::time_point now) {
  const auto found = by_address_.find(address);
  if (found == by_address_.end()) return nullptr;
  found->second->last_active = now;
  order_.splice(order_.end(), order_, found->second);  // most recent last; iterators stay valid
  return &*found->second;
}

const Binding* AddressTable::find(uint32_t address) const {
  const auto found = by_address_.find(address);
  return found == by_address_.end() ? nullptr : &*found->second;
}

std::optional<Binding> AddressTable::bind(uint32_t address, CloneId clone, unsigned profile, Clock::time_point now) {
  std::optional<Binding> evicted;
  if (by_address_.size() >= budget_ && !order_.empty()) evicted = unbind(order_.front().address);
  order_.push_back(Binding{address, clone, profile, now, now});
  by_address_[address] = std::prev(order_.end());
  return evicted;
}

std::optional<Binding> AddressTable::unbind(uint32_t address) {
  const auto found = by_address_.find(address);
  if (found == by_address_.end()) return std::nullopt;
  Binding binding = *found->second;
  order_.erase(found->second);
  by_address_.erase(found);
  return binding;
}

}  // namespace vmhive::farm
