// How a device asks the VM to stop (power-off, reset, a test guest's exit
// code). The VMM turns a request into a VmOutcome; devices stay free of it.
#pragma once

#include <cstdint>
#include <functional>

namespace vmhive {

enum class StopReason { kPowerOff, kReset, kDebugExit };

struct StopRequest {
  StopReason reason;
  uint8_t debug_exit_code = 0;  // only for kDebugExit
};

// Called from a vCPU thread, with no device lock held; may be called more
// than once (the first request decides the outcome).
using StopCallback = std::function<void(const StopRequest&)>;

}  // namespace vmhive
