// `vmhive clone SNAPSHOT --count N`: N VMs from one snapshot, one process
// each (`vmhive restore`), so a clone that fails takes nothing else down. The
// command stays in front: it passes SIGINT/SIGTERM on to every clone and
// ends when they all have.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace vmhive::cli {

struct CloneOptions {
  std::string snapshot_dir;
  unsigned count = 1;        // 1 to kMaxClones (CLI11 checks)
  std::string console_dir;  // empty: clones' consoles are discarded
  std::string control_dir;  // empty: no control sockets
  std::string overlay_dir;  // empty: each clone's disk overlays are unnamed and go with it
  std::string tap_prefix;   // clone N's virtio-net uses the tap <prefix>N (snapshots with one net)
};

inline constexpr unsigned kMaxClones = 100000;

// Returns the exit status: 0 when every clone ended with 0.
Result<int> clone_command(const CloneOptions& options, const std::string& vmhive_binary);

// Shared with the clone server (clone_server.h):
// the `vmhive restore` command line of clone number `index`;
std::vector<std::string> clone_restore_arguments(const CloneOptions& options, const std::string& vmhive_binary,
                                                 unsigned index);
// the snapshot checked once, so that a bad one is one message, not N;
Result<void> check_snapshot(const std::string& dir);
// a directory option's directory, made if missing.
Result<void> ensure_directory(const std::string& dir, const char* option);

}  // namespace vmhive::cli
