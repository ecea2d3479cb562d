#include "host/cpu_pinning.h"

#include <sched.h>

#include <string>

#include "common/errno_error.h"

namespace vmhive::host {

Result<void> pin_calling_thread(uint32_t cpu) {
  if (cpu >= CPU_SETSIZE) return make_error("host CPU " + std::to_string(cpu) + " is beyond what can be pinned");
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (::sched_setaffinity(0, sizeof set, &set) != 0)
    return errno_error("cannot pin the thread to host CPU " + std::to_string(cpu));
  return {};
}

}  // namespace vmhive::host
