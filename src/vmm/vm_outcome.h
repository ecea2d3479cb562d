// How a VM run ended, and the process exit status for it
// (documented in docs/guest-interface.md and the README).
#pragma once

#include <string>

namespace vmhive {

// kStopped: ended through the control socket (a stop, or a snapshot that
// does not resume).
enum class VmOutcomeKind { kPowerOff, kReset, kCrash, kDebugExit, kSignal, kVmmError, kStopped };

struct VmOutcome {
  VmOutcomeKind kind;
  int code = 0;          // debug-exit value, or signal number
  std::string message;   // for crashes and VMM errors: what happened
};

namespace exit_status {
inline constexpr int kPowerOff = 0;
inline constexpr int kVmmError = 1;
inline constexpr int kUsage = 2;
inline constexpr int kReset = 3;
inline constexpr int kCrash = 4;
inline constexpr int kGuestFailure = 5;
}  // namespace exit_status

inline int exit_status_for(const VmOutcome& outcome) {
  switch (outcome.kind) {
    case VmOutcomeKind::kPowerOff:
    case VmOutcomeKind::kStopped: return exit_status::kPowerOff;
    case VmOutcomeKind::kReset: return exit_status::kReset;
    case VmOutcomeKind::kCrash: return exit_status::kCrash;
    case VmOutcomeKind::kDebugExit: return outcome.code == 0 ? exit_status::kPowerOff : exit_status::kGuestFailure;
    case VmOutcomeKind::kSignal: return 128 + outcome.code;
    case VmOutcomeKind::kVmmError: break;
  }
  return exit_status::kVmmError;
}

}  // namespace vmhive
