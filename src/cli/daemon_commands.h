// The CLI's commands that talk to vmhived (docs/daemon.md): ps, create,
// start, pause, resume, stop, rm, inspect, console, logs, stats, events,
// pool (set, ls, rm), and snapshot and clone through the daemon. Tables for people by default, --json for
// scripts. Exit status: 0 done; 1 the daemon answered with an error;
// 2 usage; 3 the daemon could not be reached; 4 no such VM.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace vmhive::cli {

namespace daemon_exit {
inline constexpr int kDone = 0;
inline constexpr int kRefused = 1;
inline constexpr int kUsage = 2;
inline constexpr int kUnreachable = 3;
inline constexpr int kNoSuchVm = 4;
}  // namespace daemon_exit

inline constexpr char kDefaultDaemonSocket[] = "/run/vmhive/vmhived.sock";
// $VMHIVE_DAEMON_SOCKET, or the default.
std::string default_daemon_socket();

// `vmhive snapshot NAME DIR [--stop]`: the daemon's VM NAME to DIR; prints the report.
int daemon_snapshot(const std::string& socket, const std::string& name, const std::string& dir, bool stop);

// `vmhive clone DIR --name-prefix P [--count N] [--tap-prefix T] [--disk D]...`:
// N VMs of the daemon (P-0 ...) from the snapshot, from its ready pool if it
// has one; prints a table of them (or JSON).
struct DaemonCloneRequest {
  std::string socket;
  std::string snapshot_dir;
  unsigned count = 1;
  std::string name_prefix;
  std::string tap_prefix;
  std::vector<std::string> disks;
  bool json = false;
};
int daemon_clone(const DaemonCloneRequest& request);

struct DaemonCommandOptions;

class DaemonCommands {
 public:
  explicit DaemonCommands(CLI::App& app);
  ~DaemonCommands();
  static const std::vector<std::string>& names();
  // The exit status if one of these commands was given, nothing otherwise.
  std::optional<int> run() const;

 private:
  std::unique_ptr<DaemonCommandOptions> options_;
};

}  // namespace vmhive::cli
