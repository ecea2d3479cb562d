// `vmhive clone SNAPSHOT --count N`: N VMs from one snapshot, one process
// each (`vmhive restore`), so a clone that fails takes nothing else down. The
// command stays in front: it passes SIGINT/SIGTERM/SIGHUP on to every clone
// and ends when they all have.
#pragma once

#include <string>

#include "clones/clone_options.h"
#include "common/result.h"

namespace vmhive::clones {

inline constexpr unsigned kMaxClones = 100000;

// Starts `count` clones, printing "clone-I pid P" for each on stdout, and
// waits for all of them. Returns the exit status: 0 when every clone exited
// with 0, else 1.
Result<int> run_clones(const CloneOptions& options, unsigned count, const std::string& vmhive_binary);

}  // namespace vmhive::clones
