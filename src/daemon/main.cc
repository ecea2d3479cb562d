// vmhived: the daemon that runs many confined VMs on one host and serves
// their API on a Unix socket (docs/daemon.md).
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <climits>
#include <cstdio>
#include <filesystem>
#include <string>

#include "common/directories.h"
#include "confinement/jail.h"
#include "confinement/process_hygiene.h"
#include "daemon/daemon_api.h"
#include "daemon/daemon_loop.h"

namespace {

// `vmhive` beside this executable (as the build and an install put them).
std::string default_vmhive_binary() {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) return "vmhive";
  return (self.parent_path() / "vmhive").string();
}

}  // namespace

int main(int argc, char** argv) {
  using vmhive::daemon::DaemonOptions;
  DaemonOptions options;
  options.registry.vmhive_binary = default_vmhive_binary();
  CLI::App app{"vmhived: runs VMs as confined processes and serves their API on a Unix socket"};
  app.set_version_flag("--version", std::string("vmhived ") + vmhive::daemon::kDaemonVersion);
  app.add_option("--socket", options.socket_path, "the API socket (0600)")->capture_default_str();
  app.add_option("--state-dir", options.state_dir, "where VM records, logs and events are kept")->capture_default_str();
  std::string socket_owner;
  app.add_option("--socket-owner", socket_owner, "UID[:GID] to own the API socket (and be allowed to use it)");
  std::vector<uid_t> allowed;
  app.add_option("--allow-uid", allowed, "another uid allowed to use the API (repeatable)");
  app.add_option("--vmhive", options.registry.vmhive_binary, "the vmhive binary each VM runs as")->capture_default_str();
  uint32_t stop_timeout_ms = 10000;
  app.add_option("--stop-timeout-ms", stop_timeout_ms, "graceful stop, then SIGTERM, then SIGKILL, each after this")
      ->check(CLI::Range(100u, 600000u))
      ->capture_default_str();
  app.add_option("--console-limit", options.registry.console_limit, "each VM's console log stops growing here")
      ->capture_default_str();
  app.add_flag("--jail", options.registry.jail,
               "run every VM jailed in <state>/vms/<name>/jail, in namespaces of its own, as an unprivileged user");
  app.add_option("--jail-user", options.registry.jail_user, "the jailed VMs' UID[:GID] (default 65534, nobody)");
  app.add_option("--vm-arg", options.registry.vm_args, "an extra argument for every VM process (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--max-connections", options.max_connections, "API connections at once")
      ->check(CLI::Range(1, 65536))
      ->capture_default_str();
  app.add_option("--farm", options.farm_config,
                 "run the honeyfarm of this configuration (docs/farm.md) as part of the daemon");
  std::string dashboard;
  app.add_option("--dashboard", dashboard,
                 "serve the farm's dashboard and read-only farm API over HTTP on ADDRESS:PORT (an IPv4 address; "
                 "anyone who can reach it can read it: keep it on loopback or a management network)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) return app.exit(error);
    std::fprintf(stderr, "vmhived: %s\n", error.what());
    return 2;
  }
  // Nothing a launcher left open by mistake reaches the daemon or its VMs.
  if (auto closed = vmhive::confinement::close_stray_descriptors({}); !closed.ok()) {
    std::fprintf(stderr, "vmhived: %s\n", closed.error().message.c_str());
    return 1;
  }
  options.registry.stop_timeout = std::chrono::milliseconds(stop_timeout_ms);
  if (!options.registry.jail_user.empty()) {
    if (!options.registry.jail) {
      std::fprintf(stderr, "vmhived: --jail-user goes with --jail\n");
      return 2;
    }
    if (auto user = vmhive::confinement::parse_jail_user(options.registry.jail_user); !user.ok()) {
      std::fprintf(stderr, "vmhived: --jail-user: %s\n", user.error().message.c_str());
      return 2;
    }
  }
  options.allowed_uids = allowed;
  if (!dashboard.empty()) {
    const size_t colon = dashboard.rfind(':');
    unsigned long port = 0;
    try {
      if (colon != std::string::npos) port = std::stoul(dashboard.substr(colon + 1));
    } catch (const std::exception&) {
      port = 0;
    }
    if (colon == std::string::npos || port == 0 || port > 65535 ||
        dashboard.find_first_not_of("0123456789", colon + 1) != std::string::npos) {
      std::fprintf(stderr, "vmhived: --dashboard %s: give ADDRESS:PORT, like 127.0.0.1:8080\n", dashboard.c_str());
      return 2;
    }
    options.dashboard_address = dashboard.substr(0, colon);
    options.dashboard_port = static_cast<uint16_t>(port);
  }
  if (!socket_owner.empty()) {
    auto owner = vmhive::confinement::parse_jail_user(socket_owner);
    if (!owner.ok()) {
      std::fprintf(stderr, "vmhived: --socket-owner: %s\n", owner.error().message.c_str());
      return 2;
    }
    options.socket_owner = *owner;
    options.allowed_uids.push_back(owner->first);
  }
  // The default socket's directory is the daemon's own.
  const std::string socket_dir = std::filesystem::path(options.socket_path).parent_path().string();
  if (options.socket_path == DaemonOptions{}.socket_path) {
    if (auto made = vmhive::ensure_private_directory(socket_dir); !made.ok()) {
      std::fprintf(stderr, "vmhived: %s\n", made.error().message.c_str());
      return 1;
    }
  }
  if (auto served = vmhive::daemon::run_daemon(options); !served.ok()) {
    std::fprintf(stderr, "vmhived: %s\n", served.error().message.c_str());
    return 1;
  }
  return 0;
}
