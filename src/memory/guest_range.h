// A range of guest-physical addresses: [start, start + size).
#pragma once

#include <cstdint>

#include "common/result.h"

namespace vmhive {

struct GuestRange {
  uint64_t start = 0;
  uint64_t size = 0;

  uint64_t end() const { return start + size; }
  bool contains(uint64_t address) const { return address >= start && address - start < size; }
  bool operator==(const GuestRange&) const = default;

  template <class Codec, class Self>
  static Result<void> fields(Codec& codec, Self& self) {
    return codec.field(self.start, self.size);
  }
};

}  // namespace vmhive
