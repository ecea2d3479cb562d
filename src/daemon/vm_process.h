// One VM's `vmhive run` process as the daemon sees it: started by the
// daemon (its child, reaped with its exit status) or found again after a
// daemon restart (adopted: watched through a pidfd; its status is not
// ours to reap, so how it ended is read from its stderr log).
//
// The process gets: stdin from the VM's console.in FIFO (console input and
// a graceful stop reach the guest through it, also after a daemon restart),
// stdout to /dev/null, stderr appended to vmm.log; a session of its own, so
// that the daemon's terminal and signals are not its. It confines itself
// (seccomp, capabilities, cgroup for its CPU policy) as every `vmhive run` does.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "control/vm_controller.h"
#include "daemon/vm_record.h"

namespace vmhive::daemon {

struct LaunchSpec {
  std::string vmhive_binary;
  std::string config_path;  // `vmhive run --config` this; empty: restore
  std::optional<RestoreSource> restore;  // `vmhive restore` this instead
  std::string control_socket;
  std::string console_log;
  std::string console_limit = "1M";
  std::string stderr_log;
  std::string console_fifo;
  std::vector<std::string> extra_args;  // e.g. --no-seccomp, --test-forbidden-call
  std::string counters_file;             // --counters-file (control/counters_file.h); empty: none
  // A restore held before it runs (`vmhive restore --hold-fd 3`, a ready
  // pool's member): this end of the hold socket pair becomes the process's fd 3.
  int hold_fd = -1;
};

// How a process ended, as waitid or its log tells.
struct ProcessEnd {
  std::optional<int> status;
  std::optional<int> signal;
};

class VmProcess {
 public:
  static Result<VmProcess> launch(const LaunchSpec& spec);
  // The process `pid` if it still is the one that started at
  // `start_ticks`; nothing if it has gone (or its pid was reused).
  static std::optional<VmProcess> adopt(pid_t pid, uint64_t start_ticks);

  pid_t pid() const { return pid_; }
  uint64_t start_ticks() const { return start_ticks_; }
  int pidfd() const { return pidfd_.get(); }  // readable once the process has ended
  bool is_child() const { return child_; }
  // Once pidfd() is readable: collects the child's status (an adopted
  // process's is unknown). Never leaves a zombie.
  ProcessEnd reap();
  Result<void> signal(int signal) const;

 private:
  VmProcess(pid_t pid, uint64_t start_ticks, UniqueFd pidfd, bool child)
      : pid_(pid), start_ticks_(start_ticks), pidfd_(std::move(pidfd)), child_(child) {}

  pid_t pid_;
  uint64_t start_ticks_;
  UniqueFd pidfd_;
  bool child_;
};

// /proc/<pid>/stat's start time (clock ticks after boot); 0 if the process is gone.
uint64_t process_start_ticks(pid_t pid);

// What a running VM process uses: CPU time of the whole process and of its
// vCPU threads (threads named vcpuN), and resident memory.
struct ProcessUsage {
  double cpu_seconds = 0;
  double vcpu_seconds = 0;
  uint64_t resident_bytes = 0;
  uint32_t threads = 0;
};
ProcessUsage process_usage(pid_t pid);
// The cheap part of it, from /proc/<pid>/stat alone: CPU time, resident
// memory and threads of the process itself (no vCPU time, no children).
ProcessUsage process_stat_usage(pid_t pid);

// A running VM's counters from its counters file (control/counters_file.h)
// without waking it: exits and device traffic from the file, the vCPU
// time from its vCPU threads' scheduler statistics (threads of `pid` only).
// Nothing if the file is missing, not a regular file, or not well formed.
std::optional<control::VmStats> read_counters_file(const std::string& path, pid_t pid);

// The last `bytes` of a file (empty if it cannot be read; a link is not followed).
std::string tail_of(const std::string& path, size_t bytes);
// The last non-empty line of a log file (at most its last 4 KiB are read).
std::string last_line_of(const std::string& path);

}  // namespace vmhive::daemon
