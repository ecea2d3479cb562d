// `vmhive clone-server SNAPSHOT --socket PATH --pool N`: a resident clone
// server. It keeps N clones of the snapshot restored but not yet running
// (`vmhive restore --hold-fd 3`: process started, KVM VM and vCPUs created,
// state loaded, memory file mapped), so that a request only has to let one
// go (hold_protocol.h): the cost of a restore is paid before the request, and
// a replacement is restored after it. Each clone is still a process of its own.
//
// Requests and replies: clone_server_protocol.h.
// SIGINT/SIGTERM/SIGHUP end the server: held clones are let go (they exit
// without running), started ones get SIGTERM, and it waits for all of them.
#pragma once

#include <string>

#include "clones/clone_options.h"
#include "common/result.h"

namespace vmhive::clones {

struct CloneServerOptions {
  CloneOptions clones;  // snapshot, consoles, control sockets, overlays, taps
  std::string socket;
  unsigned pool = 4;  // 1 to kMaxPool (the command line checks)
};

inline constexpr unsigned kMaxPool = 1024;

// Serves until a signal ends it; returns the exit status (0).
Result<int> run_clone_server(const CloneServerOptions& options, const std::string& vmhive_binary);

}  // namespace vmhive::clones
