// How much RAM this host has: the ceiling for a VM's memory, whether it
// comes from --mem or from a snapshot's state file.
#pragma once

#include <unistd.h>

#include <cstdint>

namespace vmhive {

inline uint64_t host_physical_memory() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page_size > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size) : UINT64_MAX;
}

}  // namespace vmhive
