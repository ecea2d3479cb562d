// What every clone of a snapshot is given, shared by `vmhive clone`
// (clone_command.h) and `vmhive clone-server` (clone_server.h). Each clone is
// a `vmhive restore` process of its own; these options say where its console,
// control socket, disk overlays and tap are.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace vmhive::clones {

struct CloneOptions {
  std::string snapshot_dir;
  std::string console_dir;  // empty: clones' consoles are discarded
  std::string console_limit;  // empty: restore's default
  std::string control_dir;  // empty: no control sockets
  std::string overlay_dir;  // empty: each clone's disk overlays are unnamed and go with it
  std::string tap_prefix;   // clone N's virtio-net uses the tap <prefix>N (snapshots with one net)
  std::vector<std::string> shared_disks;  // read-only images the snapshot uses in place (restore --disk)
  bool no_seccomp = false;                // clones run without their system-call allowlists
  std::string jail_dir;                   // non-empty: clone N runs jailed in <jail_dir>/clone-N
  std::string jail_user;                  // their UID[:GID] (restore --jail-user)
};

// The `vmhive restore` command line of clone number `index` (clone-N's
// console, socket and overlays are named after it).
std::vector<std::string> restore_arguments(const CloneOptions& options, const std::string& vmhive_binary,
                                           unsigned index);

// Before the first clone: the snapshot checked once (so that a bad one is one
// message, not one per clone) and the options' directories made if missing.
Result<void> prepare_clones(const CloneOptions& options);

}  // namespace vmhive::clones
