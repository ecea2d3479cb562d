// `vmhive clone-server SNAPSHOT --socket PATH --pool N`: a resident clone
// server. It keeps N clones of the snapshot restored but not yet running
// (`vmhive restore --hold-fd`: process started, KVM VM and vCPUs created,
// state loaded, memory file mapped), so that a request only has to let one
// go: the cost of a restore is paid before the request, and a replacement is
// restored after it. Each clone is still a process of its own.
//
// Requests, one JSON line per connection on PATH:
//   {"op":"clone"}                 -> {"ok":true,"index":I,"pid":P,"start_ms":T}
//   {"op":"clone","input":"text"}  the same, and `text` is written to the
//                                  clone's console once it runs
//   {"op":"status"}                -> {"ok":true,"ready":R,"restoring":S,"started":C}
// start_ms is from the request to every vCPU thread of the clone running.
// SIGINT/SIGTERM end the server: unused clones exit, started ones get SIGTERM.
#pragma once

#include <string>

#include "cli/clone_command.h"
#include "common/result.h"

namespace vmhive::cli {

struct CloneServerOptions {
  CloneOptions clones;  // snapshot, consoles, control sockets, overlays, taps (count is unused)
  std::string socket;
  unsigned pool = 4;  // 1 to kMaxPool (CLI11 checks)
};

inline constexpr unsigned kMaxPool = 1024;

Result<int> clone_server_command(const CloneServerOptions& options, const std::string& vmhive_binary);

}  // namespace vmhive::cli
