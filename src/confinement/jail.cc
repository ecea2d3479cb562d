#include "confinement/jail.h"

#include <fcntl.h>
#include <poll.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "common/errno_error.h"
#include "common/signal_fd.h"
#include "confinement/process_hygiene.h"

namespace vmhive::confinement {
namespace {

Result<uint32_t> parse_id(std::string_view text, const std::string& whole) {
  uint32_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size())
    return make_error("--jail-user " + whole + ": give UID or UID:GID as numbers");
  return value;
}

Result<void> set_limit(int resource, uint64_t value, const char* name) {
  const rlimit limit{value, value};
  if (::setrlimit(resource, &limit) != 0) return errno_error(std::string("cannot set ") + name);
  return {};
}

}  // namespace

Result<std::pair<uid_t, gid_t>> parse_jail_user(const std::string& text) {
  const size_t colon = text.find(':');
  const uint32_t uid = VMHIVE_TRY(parse_id(std::string_view(text).substr(0, colon), text));
  const uint32_t gid =
      colon == std::string::npos ? uid : VMHIVE_TRY(parse_id(std::string_view(text).substr(colon + 1), text));
  if (uid == 0 || gid == 0) return make_error("--jail-user " + text + ": a jailed VM does not run as root");
  return std::pair<uid_t, gid_t>{uid, gid};
}

Result<std::optional<int>> enter_pid_namespace() {
  // Blocked before the fork, so that none is lost between fork and the
  // parent's signalfd; the child unblocks them (they reach its own loop).
  SignalFd signals = VMHIVE_TRY(SignalFd::block({SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD}));
  if (::unshare(CLONE_NEWPID) != 0) return errno_error("cannot create a PID namespace for the jail");
  const pid_t child = ::fork();
  if (child < 0) return errno_error("cannot start the jailed VM process");
  if (child == 0) {
    // The VM: PID 1 of its namespace. It dies with the launcher (set again
    // in enter_jail after its change of user, which clears it).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    return std::optional<int>();
  }
  for (;;) {
    pollfd ready{signals.fd(), POLLIN, 0};
    if (::poll(&ready, 1, -1) < 0 && errno != EINTR) return errno_error("poll failed");
    while (const int signal = signals.take()) {
      if (signal != SIGCHLD) ::kill(child, signal);
    }
    int status = 0;
    const pid_t done = ::waitpid(child, &status, WNOHANG);
    if (done == child) return std::optional<int>(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
}

Result<void> enter_jail(const JailConfig& config) {
  if (config.root.empty() || config.root.front() != '/')
    return make_error("--jail " + config.root + ": give the jail directory as an absolute path");
  if (::mkdir(config.root.c_str(), 0700) != 0 && errno != EEXIST) return errno_error("--jail", config.root);
  struct stat root {};
  if (::lstat(config.root.c_str(), &root) != 0) return errno_error("--jail", config.root);
  if (!S_ISDIR(root.st_mode)) return make_error("--jail " + config.root + " is not a directory");
  if (::chown(config.root.c_str(), config.uid, config.gid) != 0 || ::chmod(config.root.c_str(), 0700) != 0)
    return errno_error("--jail: cannot give the directory to the jail's user", config.root);

  if (::unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET) != 0)
    return errno_error("cannot create the jail's namespaces");
  // Nothing mounted here propagates back to the host.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return errno_error("cannot make / private");
  // pivot_root wants the new root to be a mount point of its own.
  if (::mount(config.root.c_str(), config.root.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    return errno_error("cannot bind the jail directory", config.root);
  if (::chdir(config.root.c_str()) != 0) return errno_error("cannot enter the jail directory", config.root);
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return errno_error("pivot_root into the jail failed");
  // The old root is stacked under the new one: detach it, and nothing outside is left.
  if (::umount2(".", MNT_DETACH) != 0) return errno_error("cannot detach the host's root");
  if (::chdir("/") != 0) return errno_error("chdir into the jail failed");
  // A /proc of the VM's own PID namespace (snapshots read /proc/self).
  if (::mkdir("/proc", 0555) != 0 && errno != EEXIST) return errno_error("cannot make the jail's /proc");
  if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    return errno_error("cannot mount the jail's /proc");
  (void)::sethostname("vmhive-jail", 11);

  VMHIVE_CHECK(set_limit(RLIMIT_NOFILE, config.max_open_files, "the open-file limit"));
  VMHIVE_CHECK(set_limit(RLIMIT_CORE, 0, "the core-file limit"));  // guest RAM never lands in a core file

  // Nothing gained back later: the bounding set goes while it still can.
  VMHIVE_CHECK(drop_bounding_set());
  if (::setgroups(0, nullptr) != 0) return errno_error("cannot drop supplementary groups");
  if (::setresgid(config.gid, config.gid, config.gid) != 0) return errno_error("cannot become the jail's group");
  if (::setresuid(config.uid, config.uid, config.uid) != 0) return errno_error("cannot become the jail's user");
  // A change of credentials clears the parent-death signal: set it again, so
  // that a jailed VM still dies with its launcher (whose pid the daemon knows).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  return {};
}

}  // namespace vmhive::confinement
