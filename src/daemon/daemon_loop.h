// vmhived's event loop: the API socket, the VM processes' pidfds, stop
// deadlines, followed consoles, and SIGTERM/SIGINT (which end the daemon
// and leave every VM running: the next daemon adopts them).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/vm_registry.h"

namespace vmhive::daemon {

struct DaemonOptions {
  std::string socket_path = "/run/vmhive/vmhived.sock";
  std::string state_dir = "/var/lib/vmhive";
  std::optional<std::pair<uid_t, gid_t>> socket_owner;
  std::vector<uid_t> allowed_uids;
  RegistryOptions registry;
  size_t max_connections = 1024;
  std::string farm_config;        // empty: no farm
  std::string dashboard_address;  // empty: no dashboard over TCP
  uint16_t dashboard_port = 0;
};

// Runs until SIGTERM or SIGINT; an error before serving (a bad state
// directory, a socket in use) comes back as an error.
Result<void> run_daemon(const DaemonOptions& options);

}  // namespace vmhive::daemon
