// A child process started with posix_spawn and owned like a file descriptor.
//
// The pid stays ours until we reap it, so kill() can never reach a process
// that reused the number. The destructor kills (SIGKILL) and reaps a child
// that has not been reaped: a clone never outlives the object that started
// it by accident. release() gives that duty to the caller.
//
// The child starts clean: stdin from /dev/null or a given descriptor, stdout
// on /dev/null or a given descriptor, our stderr (its errors are one line there), the descriptors
// it is given at the numbers it is given, and every other descriptor closed
// (posix_spawn_file_actions_addclosefrom_np), whether or not it was
// close-on-exec: a VM process never inherits a stray socket, pipe or disk.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace vmhive::clones {

// A descriptor of ours that the child gets as `child_fd` (3 or more).
struct PlacedFd {
  int fd;
  int child_fd;
};

// An empty signal set, for SpawnOptions::signal_mask.
sigset_t no_signals();

struct SpawnOptions {
  std::vector<std::string> argv{};  // argv[0] is the program's path (no PATH search)
  int stdin_fd = -1;              // -1: /dev/null
  int stdout_fd = -1;             // -1: /dev/null
  std::vector<PlacedFd> fds{};
  // The mask the child starts with (a parent that takes signals through a
  // signalfd blocks them; its children should not inherit that).
  sigset_t signal_mask = no_signals();
  // Reset to SIG_DFL in the child: an ignored signal would be inherited
  // (the clone commands ignore SIGPIPE; a VM process must not).
  std::vector<int> default_signals{SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGPIPE};
};

// How a child ended.
struct ExitStatus {
  int code = 0;    // its exit status, when it exited
  int signal = 0;  // the signal that ended it; 0 when it exited
  bool success() const { return signal == 0 && code == 0; }
  static ExitStatus from_wait_status(int status);
};

class ChildProcess {
 public:
  static Result<ChildProcess> spawn(const SpawnOptions& options);
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();  // kills and reaps a child not reaped yet (unless released)

  pid_t pid() const { return pid_; }
  // How it ended, reaping it if it has; nullopt while it runs.
  Result<std::optional<ExitStatus>> try_wait();
  // Waits until it ends (and reaps it).
  Result<ExitStatus> wait();
  // Sends `signal`; refused once it was reaped (the pid may belong to another process by then).
  Result<void> kill(int signal);
  // Gives up the child: it is no longer killed or reaped by this object.
  pid_t release();

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  bool owned() const { return pid_ > 0 && !status_ && !released_; }
  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;  // once reaped
  bool released_ = false;
};

// Calls `collect(pid)` for each child of this process that has ended and is
// not reaped yet. The child is found with waitid(WNOWAIT), which leaves it to
// its owner: `collect` reaps the ones it owns through their ChildProcess
// (wait()) and returns false for any other, which is reaped here so that it
// cannot hide the rest. One call per SIGCHLD costs one system call per ended
// child, however many children are still running.
void collect_ended_children(const std::function<bool(pid_t)>& collect);

}  // namespace vmhive::clones
