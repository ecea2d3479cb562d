#include "clones/child_process.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "common/errno_error.h"
#include "common/unique_fd.h"

namespace vmhive::clones {
namespace {

// posix_spawn's two set-up objects, destroyed on every path.
class FileActions {
 public:
  FileActions() { ::posix_spawn_file_actions_init(&actions_); }
  ~FileActions() { ::posix_spawn_file_actions_destroy(&actions_); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

class SpawnAttributes {
 public:
  SpawnAttributes() { ::posix_spawnattr_init(&attributes_); }
  ~SpawnAttributes() { ::posix_spawnattr_destroy(&attributes_); }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
  posix_spawnattr_t* get() { return &attributes_; }

 private:
  posix_spawnattr_t attributes_;
};

}  // namespace

sigset_t no_signals() {
  sigset_t set;
  sigemptyset(&set);
  return set;
}

ExitStatus ExitStatus::from_wait_status(int status) {
  ExitStatus result;
  if (WIFEXITED(status)) result.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

Result<ChildProcess> ChildProcess::spawn(const SpawnOptions& options) {
  if (options.argv.empty()) return make_error("cannot start a process: no program given");
  const std::string& program = options.argv[0];

  int highest = STDERR_FILENO;
  std::vector<int> targets;
  for (const PlacedFd& placed : options.fds) {
    if (placed.child_fd <= STDERR_FILENO || std::find(targets.begin(), targets.end(), placed.child_fd) != targets.end())
      return make_error("cannot start " + program + ": descriptor " + std::to_string(placed.child_fd) +
                        " placed twice or over stdin, stdout or stderr");
    targets.push_back(placed.child_fd);
    highest = std::max(highest, placed.child_fd);
  }
  // Each descriptor is copied into place with dup2 (which clears
  // close-on-exec). A source whose number is also a target could be
  // overwritten by an earlier copy, so such sources are first moved above
  // every target; the moved copies are closed in the child with the rest.
  std::vector<UniqueFd> moved;
  auto movable_source = [&](int fd) -> Result<int> {
    if (fd > highest) return fd;
    UniqueFd copy(::fcntl(fd, F_DUPFD_CLOEXEC, highest + 1));
    if (!copy.valid())
      return errno_error("cannot start " + program + ": cannot duplicate descriptor", std::to_string(fd));
    moved.push_back(std::move(copy));
    return moved.back().get();
  };

  FileActions actions;
  int setup = 0;  // the first failing set-up call's error
  auto check = [&setup](int error) { setup = setup != 0 ? setup : error; };
  if (options.stdin_fd >= 0) {
    const int source = VMHIVE_TRY(movable_source(options.stdin_fd));
    check(::posix_spawn_file_actions_adddup2(actions.get(), source, STDIN_FILENO));
  } else {
    check(::posix_spawn_file_actions_addopen(actions.get(), STDIN_FILENO, "/dev/null", O_RDONLY, 0));
  }
  if (options.stdout_fd >= 0) {
    const int source = VMHIVE_TRY(movable_source(options.stdout_fd));
    check(::posix_spawn_file_actions_adddup2(actions.get(), source, STDOUT_FILENO));
  } else {
    check(::posix_spawn_file_actions_addopen(actions.get(), STDOUT_FILENO, "/dev/null", O_WRONLY, 0));
  }
  for (const PlacedFd& placed : options.fds) {
    const int source = VMHIVE_TRY(movable_source(placed.fd));
    check(::posix_spawn_file_actions_adddup2(actions.get(), source, placed.child_fd));
  }
  for (int fd = STDERR_FILENO + 1; fd < highest; ++fd) {
    if (std::find(targets.begin(), targets.end(), fd) == targets.end())
      check(::posix_spawn_file_actions_addclose(actions.get(), fd));
  }
  check(::posix_spawn_file_actions_addclosefrom_np(actions.get(), highest + 1));

  SpawnAttributes attributes;
  sigset_t defaults = no_signals();
  for (int signal : options.default_signals) sigaddset(&defaults, signal);
  check(::posix_spawnattr_setsigmask(attributes.get(), &options.signal_mask));
  check(::posix_spawnattr_setsigdefault(attributes.get(), &defaults));
  check(::posix_spawnattr_setflags(attributes.get(), POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF));
  if (setup != 0) return error_from_code(setup, "cannot set up the start of", program);

  std::vector<char*> argv;
  // posix_spawn takes char* const[] for C's sake; it does not write the strings.
  for (const std::string& arg : options.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (const int error = ::posix_spawn(&pid, program.c_str(), actions.get(), attributes.get(), argv.data(), environ);
      error != 0)
    return error_from_code(error, "cannot start", program);
  return ChildProcess(pid);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(other.status_), released_(other.released_) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    ChildProcess old(std::move(*this));  // killed and reaped, if still owned, as it goes
    pid_ = std::exchange(other.pid_, -1);
    status_ = other.status_;
    released_ = other.released_;
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  if (!owned()) return;
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

Result<std::optional<ExitStatus>> ChildProcess::try_wait() {
  if (status_) return status_;
  if (!owned()) return make_error("no child process to wait for");
  int status = 0;
  pid_t got;
  do {
    got = ::waitpid(pid_, &status, WNOHANG);
  } while (got < 0 && errno == EINTR);
  if (got < 0) return errno_error("cannot wait for process", std::to_string(pid_));
  if (got == 0) return std::optional<ExitStatus>();
  status_ = ExitStatus::from_wait_status(status);
  return status_;
}

Result<ExitStatus> ChildProcess::wait() {
  if (status_) return *status_;
  if (!owned()) return make_error("no child process to wait for");
  int status = 0;
  pid_t got;
  do {
    got = ::waitpid(pid_, &status, 0);
  } while (got < 0 && errno == EINTR);
  if (got < 0) return errno_error("cannot wait for process", std::to_string(pid_));
  status_ = ExitStatus::from_wait_status(status);
  return *status_;
}

Result<void> ChildProcess::kill(int signal) {
  if (!owned()) return make_error("process " + std::to_string(pid_) + " is no longer ours to signal");
  if (::kill(pid_, signal) != 0) return errno_error("cannot signal process", std::to_string(pid_));
  return {};
}

pid_t ChildProcess::release() {
  released_ = true;
  return pid_;
}

void collect_ended_children(const std::function<bool(pid_t)>& collect) {
  pid_t previous = 0;
  for (;;) {
    siginfo_t info{};
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
      if (errno == EINTR) continue;
      return;  // ECHILD: no children at all
    }
    const pid_t pid = info.si_pid;
    if (pid == 0) return;  // none has ended
    // Not ours, or its owner did not reap it: reaped here, or it would be found again and again.
    if (pid == previous || !collect(pid)) {
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    previous = pid;
  }
}

}  // namespace vmhive::clones
