// The jailer: a VM process that, once its devices are open, lives in a
// world of its own. Before anything is opened it moves into a new PID
// namespace (the launcher stays outside as its parent, passing signals on
// and returning its exit status); after set-up it enters new mount, IPC,
// UTS and network namespaces, pivots its root into the jail directory
// (holding only what the VM may still write: snapshots), mounts a private
// /proc there, sets resource limits and becomes an unprivileged user. The
// descriptors it already holds (KVM, guest RAM, disks, taps, console, the
// control socket) keep working; nothing else on the host is reachable by
// name. Taps stay in the namespace they were created in: their descriptors
// work from anywhere, and the VM process's own network namespace is empty.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "common/result.h"

namespace vmhive::confinement {

struct JailConfig {
  std::string root;  // the directory the VM process sees as /; created 0700 for `uid` if missing
  uid_t uid = 65534;  // nobody
  gid_t gid = 65534;
  uint64_t max_open_files = 4096;
};

// Parses --jail-user: "UID" or "UID:GID" (numbers; a GID defaults to the UID).
Result<std::pair<uid_t, gid_t>> parse_jail_user(const std::string& text);

// Forks into a new PID namespace. Returns nothing in the child (which goes
// on to be the VM, as PID 1 of its namespace) and the child's exit status
// (128+N for signal N) in the parent, which forwards SIGINT, SIGTERM, SIGHUP
// and SIGQUIT to it meanwhile.
Result<std::optional<int>> enter_pid_namespace();

// After set-up, before the guest runs: the rest of the jail (see above).
Result<void> enter_jail(const JailConfig& config);

}  // namespace vmhive::confinement
