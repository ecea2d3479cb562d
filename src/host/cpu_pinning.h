// Pinning a thread to one host CPU (a VM's vCPU pins, config/vm_config.h
// CpuPolicy::pins).
#pragma once

#include <cstdint>

#include "common/result.h"

namespace vmhive::host {

// Restricts the calling thread to host CPU `cpu`; fails if the CPU is not
// one this process may run on.
Result<void> pin_calling_thread(uint32_t cpu);

}  // namespace vmhive::host
