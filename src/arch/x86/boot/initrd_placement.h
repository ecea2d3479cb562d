// Where an initial ramdisk goes: page-aligned, as high in RAM below 4 GiB as
// the kernel allows, and clear of the kernel itself.
#pragma once

#include <cstdint>

#include "common/result.h"

namespace vmhive::x86::boot {

struct InitrdLimits {
  uint64_t memory_size;      // the VM's RAM
  uint64_t kernel_end;       // nothing below this may be used
  uint64_t highest_address;  // the last byte the kernel can reach (bzImage initrd_addr_max)
};

// The guest address for an initrd of `size` bytes, or an error saying it does not fit.
Result<uint64_t> place_initrd(uint64_t size, const InitrdLimits& limits);

}  // namespace vmhive::x86::boot
