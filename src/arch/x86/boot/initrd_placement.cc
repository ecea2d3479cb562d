#include "arch/x86/boot/initrd_placement.h"

#include <algorithm>
#include <string>

#include "arch/x86/layout.h"
#include "common/size_parse.h"

namespace vmhive::x86::boot {
namespace {
constexpr uint64_t kPageSize = 4096;
}  // namespace

Result<uint64_t> place_initrd(uint64_t size, const InitrdLimits& limits) {
  const uint64_t top = std::min(low_ram_end(limits.memory_size),
                                limits.highest_address == UINT64_MAX ? UINT64_MAX : limits.highest_address + 1);
  const uint64_t bottom = (limits.kernel_end + kPageSize - 1) & ~(kPageSize - 1);
  if (size == 0 || top <= bottom || size > top - bottom) {
    return make_error("(" + format_size(size) + ") does not fit in guest RAM: " +
                      format_size(top > bottom ? top - bottom : 0) + " free between the kernel and the top of low RAM; " +
                      "give the VM more --mem");
  }
  return (top - size) & ~(kPageSize - 1);
}

}  // namespace vmhive::x86::boot
