// The hold protocol between a clone server and a clone it keeps ready
// (`vmhive restore --hold-fd N`): one word a line on a stream socket pair.
//
//   clone  -> server   "ready"    restored: VM, vCPUs, state, memory and devices
//                                 in place; no vCPU has run
//   server -> clone    "go"       start the vCPUs
//   clone  -> server   "running"  every vCPU thread runs; the clone closes its end
//
// Instead of "go" the server may close its end: the clone is let go unused
// and exits (status 0) without running a guest instruction. That is how a
// server that stops ends the clones it held.
#pragma once

#include <chrono>

#include "common/result.h"

namespace vmhive::clones {

using Deadline = std::chrono::steady_clock::time_point;

// --- the clone's side ---

enum class HoldOutcome {
  kGo,     // the server said "go": run
  kLetGo,  // the server closed the socket: exit without running
};

// Says "ready", then waits as long as it takes for the server's word. A
// server that closed its end (before or after reading "ready") lets the clone
// go. Any other word, or a broken socket, is an error.
Result<HoldOutcome> hold_until_go(int fd);
// Says "running" (once every vCPU thread has started); the caller closes fd.
Result<void> announce_running(int fd);

// --- the server's side ---

// Waits for "ready"; the end of the socket (the clone's restore failed and it
// exited), another word or the deadline is an error.
Result<void> wait_for_ready(int fd, Deadline deadline);
Result<void> send_go(int fd);
// Waits for "running" after "go".
Result<void> wait_for_running(int fd, Deadline deadline);

}  // namespace vmhive::clones
