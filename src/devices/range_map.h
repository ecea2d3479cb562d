// A sorted map of disjoint address ranges to the devices that claim them:
// the one structure behind the port I/O bus and the MMIO bus, which differ
// only in how they split an access and whether they lock (the idea of Cloud
// Hypervisor's vm-device bus). Not thread-safe: a bus that changes while
// vCPUs run wraps it in its own lock.
//
// `Address` is the space's own unsigned type (uint16_t for ports, uint64_t
// for MMIO): a range may reach the last address of that type and no further.
// Ranges are stored with an inclusive last address so that one ending at the
// top of the space needs no wider type. Devices are not owned.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/hex.h"
#include "common/result.h"

namespace vmhive {

template <class Address, class Device>
class RangeMap {
  static_assert(std::is_unsigned_v<Address> && sizeof(Address) <= sizeof(uint64_t));

 public:
  static constexpr uint64_t kLastAddress = std::numeric_limits<Address>::max();

  struct Range {
    Address first;
    Address last;  // inclusive
    Device* device;

    // Whether [address, address + length) lies wholly inside; never for an empty access.
    bool holds(uint64_t address, uint64_t length) const {
      return length != 0 && address >= first && address <= last && length - 1 <= uint64_t{last} - address;
    }
  };

  // `space` names the address space in messages ("I/O port", "MMIO").
  explicit RangeMap(std::string_view space) : space_(space) {}

  // Claims [first, first + length) for `device`. Fails, with a message that
  // names the ranges, on a null device, a zero length, a range running past
  // the end of the space, or an overlap with a range already claimed.
  Result<void> add(Address first, uint64_t length, Device* device) {
    const std::string at = space_ + " range at " + hex(first);
    if (device == nullptr) return make_error(at + ": no device given");
    if (length == 0) return make_error(at + " has zero length");
    if (length - 1 > kLastAddress - first) {
      return make_error(at + " (" + hex(length) + " bytes) runs past the end of the " + space_ + " space (" +
                        hex(kLastAddress) + ")");
    }
    const auto last = static_cast<Address>(first + (length - 1));
    auto next = first_after(first);
    const Range* clash = nullptr;
    if (next != ranges_.end() && next->first <= last) clash = &*next;
    if (next != ranges_.begin() && std::prev(next)->last >= first) clash = &*std::prev(next);
    if (clash != nullptr) {
      return make_error(space_ + " range " + hex_range(first, length) + " overlaps " +
                        hex_range(clash->first, uint64_t{clash->last} - clash->first + 1) + ", already claimed");
    }
    ranges_.insert(next, Range{first, last, device});
    return {};
  }

  // Releases the range that starts at `first` and belongs to `device`; false
  // (and nothing changes) when there is none.
  bool remove(Address first, const Device* device) {
    auto found = std::lower_bound(ranges_.begin(), ranges_.end(), first,
                                  [](const Range& range, Address address) { return range.first < address; });
    if (found == ranges_.end() || found->first != first || found->device != device) return false;
    ranges_.erase(found);
    return true;
  }

  // The range holding `address`, or null (also for an address past the space).
  const Range* find(uint64_t address) const {
    if (address > kLastAddress) return nullptr;
    auto next = first_after(static_cast<Address>(address));
    if (next == ranges_.begin()) return nullptr;
    const Range& candidate = *std::prev(next);
    return address <= candidate.last ? &candidate : nullptr;
  }

  // The range holding all of [address, address + length), or null.
  const Range* find_holding(uint64_t address, uint64_t length) const {
    const Range* range = find(address);
    return range != nullptr && range->holds(address, length) ? range : nullptr;
  }

  size_t size() const { return ranges_.size(); }

 private:
  using Ranges = std::vector<Range>;

  // The first range starting above `address`.
  typename Ranges::const_iterator first_after(Address address) const {
    return std::upper_bound(ranges_.begin(), ranges_.end(), address,
                            [](Address a, const Range& range) { return a < range.first; });
  }

  std::string space_;
  Ranges ranges_;  // sorted by first, disjoint
};

}  // namespace vmhive
