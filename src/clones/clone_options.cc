#include "clones/clone_options.h"

#include <sys/stat.h>

#include <cerrno>

#include "common/directories.h"
#include "common/errno_error.h"
#include "common/size_parse.h"
#include "snapshot/snapshot_dir.h"

namespace vmhive::clones {
namespace {

Result<void> check_snapshot(const std::string& dir) {
  const snapshot::SnapshotDir snapshot = VMHIVE_TRY(snapshot::SnapshotDir::open(dir));
  VMHIVE_TRY(snapshot.load());
  return {};
}

// A directory option's directory, made (0700) if missing, and private to
// this user if it exists: the clones' consoles, sockets and overlays go there.
Result<void> ensure_directory(const std::string& dir, const char* option) {
  if (dir.empty()) return {};
  auto checked = ensure_private_directory(dir);
  if (!checked.ok()) return with_context(option, checked.error());
  return {};
}

}  // namespace

std::vector<std::string> restore_arguments(const CloneOptions& options, const std::string& vmhive_binary,
                                           unsigned index) {
  const std::string name = "clone-" + std::to_string(index);
  std::vector<std::string> args{vmhive_binary, "restore", options.snapshot_dir};
  if (!options.console_dir.empty()) args.insert(args.end(), {"--console", options.console_dir + "/" + name + ".log"});
  if (!options.console_limit.empty()) args.insert(args.end(), {"--console-limit", options.console_limit});
  if (!options.control_dir.empty()) args.insert(args.end(), {"--control", options.control_dir + "/" + name + ".sock"});
  if (!options.overlay_dir.empty()) args.insert(args.end(), {"--overlay-dir", options.overlay_dir, "--overlay-prefix", name});
  if (!options.tap_prefix.empty()) args.insert(args.end(), {"--net", "tap=" + options.tap_prefix + std::to_string(index)});
  for (const std::string& disk : options.shared_disks) args.insert(args.end(), {"--disk", disk});
  if (options.no_seccomp) args.push_back("--no-seccomp");
  if (!options.jail_dir.empty()) args.insert(args.end(), {"--jail", options.jail_dir + "/" + name});
  if (!options.jail_user.empty()) args.insert(args.end(), {"--jail-user", options.jail_user});
  return args;
}

Result<void> prepare_clones(const CloneOptions& options) {
  VMHIVE_CHECK(check_snapshot(options.snapshot_dir));
  if (!options.console_limit.empty()) VMHIVE_TRY(parse_console_limit(options.console_limit));
  VMHIVE_CHECK(ensure_directory(options.console_dir, "--console-dir"));
  VMHIVE_CHECK(ensure_directory(options.control_dir, "--control-dir"));
  VMHIVE_CHECK(ensure_directory(options.overlay_dir, "--overlay-dir"));
  if (!options.jail_user.empty() && options.jail_dir.empty()) return make_error("--jail-user goes with --jail-dir");
  if (!options.jail_dir.empty() && options.jail_dir.front() != '/')
    return make_error("--jail-dir " + options.jail_dir + ": give an absolute path");
  VMHIVE_CHECK(ensure_directory(options.jail_dir, "--jail-dir"));
  return {};
}

}  // namespace vmhive::clones
