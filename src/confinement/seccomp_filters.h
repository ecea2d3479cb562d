// Per-thread system-call allowlists (seccomp, through libseccomp): once a
// VM is set up, each of its threads may make only the calls its job needs,
// with ioctl limited to the request numbers it issues. A call outside the
// list stops the whole VM process with one line naming the thread and the
// call (SIGSYS, reported and turned into exit status 1); nothing else on
// the host is affected. docs/security.md lists what each thread may do.
#pragma once

#include <string>

#include "common/result.h"

namespace vmhive::confinement {

enum class ThreadRole {
  kMain,    // the main loop: signals, console input, the control socket, snapshots
  kVcpu,    // KVM_RUN and the exits it handles (devices on port I/O and MMIO)
  kDevice,  // the device thread: queues, disks, taps, interrupts
  kCgroupMover,  // the helper moving the process into its cgroup as the VM starts (host/cpu_cgroup.h)
};

const char* role_name(ThreadRole role);

// Installs the SIGSYS handler that reports a forbidden call; once per
// process, before any filter.
Result<void> install_violation_report();

// Loads `role`'s filter on the calling thread (the kernel keeps it for the
// thread's life; threads it starts afterwards inherit it). Needs
// PR_SET_NO_NEW_PRIVS (set_no_new_privs()) or CAP_SYS_ADMIN.
Result<void> confine_thread(ThreadRole role);

// The name of system call `number` on this architecture ("socket" for 41 on
// x86-64), for reports read after the fact; empty if it has none.
std::string system_call_name(int number);

// A violation report line (what the SIGSYS handler writes) with the call's
// name after its number: "... system call 41 (socket) ...". Other lines
// come back unchanged.
std::string name_system_call_in(const std::string& report);

}  // namespace vmhive::confinement
