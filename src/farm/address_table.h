// Which clone answers which outside address, as Potemkin's gateway keeps
// it: an address is bound to a clone by its first packet and stays bound
// while traffic flows; a binding idle longer than its profile's timeout is
// reclaimed, and when the clone budget is spent the least recently active
// binding is evicted to make room. Looking an address up and marking it
// active allocates nothing (a hash lookup and a list splice), so the
// gateway's per-packet path stays allocation-free; binding allocates once.
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"

namespace vmhive::farm {

using Clock = std::chrono::steady_clock;
using CloneId = uint32_t;

// An IPv4 prefix the farm answers for: at most a /16 (65,536 addresses).
struct AddressRange {
  uint32_t base = 0;  // host order, the prefix's first address
  unsigned prefix_length = 32;

  static constexpr unsigned kShortestPrefix = 16;
  // "10.0.0.0/16": the address must be the prefix's first (no host bits set).
  static Result<AddressRange> parse(std::string_view text);
  bool contains(uint32_t address) const;
  uint64_t size() const { return uint64_t{1} << (32 - prefix_length); }
};

// "a.b.c.d" into a host-order address.
Result<uint32_t> parse_ipv4(std::string_view text);
std::string ipv4_text(uint32_t address);

struct Binding {
  uint32_t address = 0;  // the outside address
  CloneId clone = 0;
  unsigned profile = 0;  // index of the service profile the clone came from
  Clock::time_point bound_at{};
  Clock::time_point last_active{};
};

class AddressTable {
 public:
  explicit AddressTable(size_t budget) : budget_(budget) {}

  // The address's binding, if any, marked active at `now`.
  const Binding* touch(uint32_t address, Clock::time_point now);
  // The binding without marking it.
  const Binding* find(uint32_t address) const;
  // Binds `address` (which must be unbound) to `clone`. When the budget is
  // spent the least recently active binding is evicted first and returned:
  // the caller ends its clone.
  std::optional<Binding> bind(uint32_t address, CloneId clone, unsigned profile, Clock::time_point now);
  std::optional<Binding> unbind(uint32_t address);
  // Bindings idle past their profile's timeout (`idle_timeout(profile)`),
  // removed and returned, least recently active first.
  template <class IdleTimeout>
  std::vector<Binding> reclaim_idle(Clock::time_point now, IdleTimeout idle_timeout);
  // The least recently active binding (the next to be evicted), if any.
  const Binding* least_recent() const { return order_.empty() ? nullptr : &order_.front(); }

  size_t size() const { return by_address_.size(); }
  size_t budget() const { return budget_; }

 private:
  size_t budget_;
  std::list<Binding> order_;  // least recently active first
  std::unordered_map<uint32_t, std::list<Binding>::iterator> by_address_;
};

template <class IdleTimeout>
std::vector<Binding> AddressTable::reclaim_idle(Clock::time_point now, IdleTimeout idle_timeout) {
  std::vector<Binding> reclaimed;
  // In order of activity: once one is recent enough, those after it may
  // still be idle under a shorter timeout of another profile, so all are looked at.
  for (auto it = order_.begin(); it != order_.end();) {
    if (now - it->last_active >= idle_timeout(it->profile)) {
      reclaimed.push_back(*it);
      by_address_.erase(it->address);
      it = order_.erase(it);
    } else {
      ++it;
    }
  }
  return reclaimed;
}

}  // namespace vmhive::farm
