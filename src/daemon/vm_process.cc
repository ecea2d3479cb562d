#include "daemon/vm_process.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <sstream>

#include "common/errno_error.h"
#include "common/fd_io.h"
#include "control/counters_file.h"

namespace vmhive::daemon {
namespace {

constexpr int kHoldFd = 3;  // a held restore's --hold-fd

// posix_spawn's file actions and attributes, destroyed with their owner.
class SpawnActions {
 public:
  SpawnActions() { ::posix_spawn_file_actions_init(&actions_); }
  SpawnActions(const SpawnActions&) = delete;
  SpawnActions& operator=(const SpawnActions&) = delete;
  ~SpawnActions() { ::posix_spawn_file_actions_destroy(&actions_); }
  Result<void> dup2(int from, int to) {
    if (const int error = ::posix_spawn_file_actions_adddup2(&actions_, from, to); error != 0)
      return error_from_code(error, "posix_spawn_file_actions_adddup2 failed");
    return {};
  }
  const posix_spawn_file_actions_t* get() const { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

class SpawnAttributes {
 public:
  SpawnAttributes() { ::posix_spawnattr_init(&attributes_); }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
  ~SpawnAttributes() { ::posix_spawnattr_destroy(&attributes_); }
  // A session of its own (a terminal's signals never reach it), and no
  // signal blocked that the daemon blocks for its own signalfd.
  Result<void> new_session_with_no_blocked_signals() {
    sigset_t none;
    sigemptyset(&none);
    if (const int error = ::posix_spawnattr_setsigmask(&attributes_, &none); error != 0)
      return error_from_code(error, "posix_spawnattr_setsigmask failed");
    if (const int error = ::posix_spawnattr_setflags(&attributes_, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK);
        error != 0)
      return error_from_code(error, "posix_spawnattr_setflags failed");
    return {};
  }
  const posix_spawnattr_t* get() const { return &attributes_; }

 private:
  posix_spawnattr_t attributes_;
};

UniqueFd open_pidfd(pid_t pid) { return UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))); }

// A small file from /proc, whole (empty if it cannot be read).
std::string read_proc_file(const std::string& path) {
  UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!file.valid()) return {};
  auto bytes = read_to_end(file.get(), 1 << 20);
  return bytes.ok() ? std::string(bytes->begin(), bytes->end()) : std::string();
}

uint64_t to_number(std::string_view text) {
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  (void)end;
  return error == std::errc() ? value : 0;
}

// Fields of /proc/<pid>/stat after the command name (which may hold spaces
// and parentheses, so it is skipped by its last ')').
std::vector<std::string> stat_fields(const std::string& path) {
  const std::string text = read_proc_file(path);
  const size_t close = text.rfind(')');
  std::vector<std::string> fields;
  if (close == std::string::npos) return fields;
  std::istringstream rest(text.substr(close + 1));
  std::string field;
  while (rest >> field) fields.push_back(field);
  return fields;
}

// utime + stime in seconds from stat fields (fields 14 and 15, here 11 and 12).
double cpu_seconds_of(const std::vector<std::string>& fields) {
  if (fields.size() < 13) return 0;
  const double ticks = static_cast<double>(to_number(fields[11]) + to_number(fields[12]));
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace

uint64_t process_start_ticks(pid_t pid) {
  const auto fields = stat_fields("/proc/" + std::to_string(pid) + "/stat");
  // starttime is field 22; fields[0] is field 3.
  if (fields.size() < 20) return 0;
  return to_number(fields[19]);
}

Result<VmProcess> VmProcess::launch(const LaunchSpec& spec) {
  // Everything the child needs is opened here (close-on-exec), so that
  // between fork and exec it only moves descriptors.
  if (::mkfifo(spec.console_fifo.c_str(), 0600) != 0 && errno != EEXIST)
    return errno_error("cannot make the console FIFO", spec.console_fifo);
  UniqueFd input(::open(spec.console_fifo.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
  if (!input.valid()) return errno_error("cannot open the console FIFO", spec.console_fifo);
  struct stat info {};
  if (::fstat(input.get(), &info) != 0 || !S_ISFIFO(info.st_mode))
    return make_error(spec.console_fifo + " is not a FIFO");
  UniqueFd output(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  UniqueFd errors(::open(spec.stderr_log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!output.valid()) return errno_error("cannot open /dev/null");
  if (!errors.valid()) return errno_error("cannot open the VM's log", spec.stderr_log);

  std::vector<std::string> args = {spec.vmhive_binary};
  if (spec.restore) {
    args.insert(args.end(), {"restore", spec.restore->snapshot_dir, "--own-cgroup"});
    for (const std::string& tap : spec.restore->taps) args.insert(args.end(), {"--net", "tap=" + tap});
    for (const std::string& disk : spec.restore->disks) args.insert(args.end(), {"--disk", disk});
  } else {
    args.insert(args.end(), {"run", "--config", spec.config_path, "--own-cgroup"});
  }
  args.insert(args.end(), {"--control", spec.control_socket, "--console", spec.console_log, "--console-limit",
                           spec.console_limit});
  args.insert(args.end(), spec.extra_args.begin(), spec.extra_args.end());
  if (!spec.counters_file.empty()) args.insert(args.end(), {"--counters-file", spec.counters_file});
  if (spec.hold_fd >= 0) args.insert(args.end(), {"--hold-fd", std::to_string(kHoldFd)});
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  // posix_spawn, not fork: glibc starts the child with vfork semantics, so
  // the daemon's page tables are not copied nor its pages faulted back in
  // copy-on-write (2 ms a start on this host, whose page tables are shadowed).
  SpawnActions actions;
  SpawnAttributes attributes;
  // dup2 leaves the new descriptor without close-on-exec.
  VMHIVE_CHECK(actions.dup2(input.get(), STDIN_FILENO));
  VMHIVE_CHECK(actions.dup2(output.get(), STDOUT_FILENO));
  VMHIVE_CHECK(actions.dup2(errors.get(), STDERR_FILENO));
  if (spec.hold_fd >= 0) VMHIVE_CHECK(actions.dup2(spec.hold_fd, kHoldFd));
  VMHIVE_CHECK(attributes.new_session_with_no_blocked_signals());
  pid_t pid = 0;
  if (const int error = ::posix_spawn(&pid, argv[0], actions.get(), attributes.get(), argv.data(), environ); error != 0)
    return error_from_code(error, "the daemon could not execute the vmhive binary " + spec.vmhive_binary);
  UniqueFd pidfd = open_pidfd(pid);
  if (!pidfd.valid()) {
    const Error error = errno_error("pidfd_open failed");
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return error;
  }
  return VmProcess(pid, process_start_ticks(pid), std::move(pidfd), true);
}

std::optional<VmProcess> VmProcess::adopt(pid_t pid, uint64_t start_ticks) {
  if (pid <= 0 || start_ticks == 0) return std::nullopt;
  UniqueFd pidfd = open_pidfd(pid);
  if (!pidfd.valid()) return std::nullopt;
  // Checked after the pidfd is held: the pid cannot be reused under it any more.
  if (process_start_ticks(pid) != start_ticks) return std::nullopt;
  return VmProcess(pid, start_ticks, std::move(pidfd), false);
}

ProcessEnd VmProcess::reap() {
  ProcessEnd end;
  if (!child_) return end;
  siginfo_t info{};
  int result;
  do {
    result = ::waitid(P_PIDFD, static_cast<id_t>(pidfd_.get()), &info, WEXITED);
  } while (result < 0 && errno == EINTR);
  if (result != 0) return end;
  if (info.si_code == CLD_EXITED) {
    end.status = info.si_status;
  } else {
    end.signal = info.si_status;
  }
  child_ = false;  // reaped: nothing is left to wait for
  return end;
}

Result<void> VmProcess::signal(int signal) const {
  if (::syscall(SYS_pidfd_send_signal, pidfd_.get(), signal, nullptr, 0) != 0)
    return errno_error("cannot signal the VM's process " + std::to_string(pid_));
  return {};
}

namespace {

// The children of every thread of `pid` (/proc/PID/task/TID/children).
std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> children;
  std::error_code ignored;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  if (DIR* dir = ::opendir(tasks.c_str())) {
    while (const dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] == '.') continue;
      std::istringstream list(read_proc_file(tasks + "/" + entry->d_name + "/children"));
      pid_t child = 0;
      while (list >> child) children.push_back(child);
    }
    ::closedir(dir);
  }
  return children;
}

ProcessUsage one_process_usage(pid_t pid);

}  // namespace

ProcessUsage process_stat_usage(pid_t pid) {
  const auto fields = stat_fields("/proc/" + std::to_string(pid) + "/stat");
  ProcessUsage usage;
  // fields[i] is field i + 3: utime 14, stime 15, num_threads 20, rss 24 (pages).
  if (fields.size() < 22) return usage;
  usage.cpu_seconds = cpu_seconds_of(fields);
  usage.threads = static_cast<uint32_t>(to_number(fields[17]));
  usage.resident_bytes = to_number(fields[21]) * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  return usage;
}

// A jailed VM runs as its launcher's child: the two are one VM.
ProcessUsage process_usage(pid_t pid) {
  ProcessUsage usage = one_process_usage(pid);
  for (pid_t child : children_of(pid)) {
    const ProcessUsage more = one_process_usage(child);
    usage.cpu_seconds += more.cpu_seconds;
    usage.vcpu_seconds += more.vcpu_seconds;
    usage.resident_bytes += more.resident_bytes;
    usage.threads += more.threads;
  }
  return usage;
}

namespace {

ProcessUsage one_process_usage(pid_t pid) {
  ProcessUsage usage;
  const std::string proc = "/proc/" + std::to_string(pid);
  usage.cpu_seconds = cpu_seconds_of(stat_fields(proc + "/stat"));
  std::istringstream status(read_proc_file(proc + "/status"));
  std::string key;
  uint64_t value = 0;
  while (status >> key) {
    if (key == "VmRSS:" && status >> value) usage.resident_bytes = value * 1024;
    if (key == "Threads:" && status >> value) usage.threads = static_cast<uint32_t>(value);
  }
  if (DIR* tasks = ::opendir((proc + "/task").c_str())) {
    while (const dirent* entry = ::readdir(tasks)) {
      if (entry->d_name[0] == '.') continue;
      const std::string task = proc + "/task/" + entry->d_name;
      const std::string name = read_proc_file(task + "/comm");
      if (name.rfind("vcpu", 0) == 0) usage.vcpu_seconds += cpu_seconds_of(stat_fields(task + "/stat"));
    }
    ::closedir(tasks);
  }
  return usage;
}

}  // namespace

std::optional<control::VmStats> read_counters_file(const std::string& path, pid_t pid) {
  UniqueFd file(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat info {};
  if (!file.valid() || ::fstat(file.get(), &info) != 0 || !S_ISREG(info.st_mode)) return std::nullopt;
  std::vector<uint8_t> bytes(control::kMaxCountersFileBytes);
  const ssize_t got = ::pread(file.get(), bytes.data(), bytes.size(), 0);
  if (got <= 0) return std::nullopt;
  bytes.resize(static_cast<size_t>(got));
  auto snapshot = control::parse_counters_file(bytes);
  if (!snapshot.ok()) return std::nullopt;
  // schedstat's first field: nanoseconds on a CPU. A thread id that is not
  // one of pid's threads (the VM's to write) finds no file and counts nothing.
  for (const int64_t thread : snapshot->vcpu_threads) {
    if (thread <= 0) continue;
    std::istringstream schedstat(read_proc_file("/proc/" + std::to_string(pid) + "/task/" + std::to_string(thread) +
                                                "/schedstat"));
    uint64_t nanoseconds = 0;
    if (schedstat >> nanoseconds) snapshot->stats.vcpu_seconds += static_cast<double>(nanoseconds) / 1e9;
  }
  return std::move(snapshot->stats);
}

std::string tail_of(const std::string& path, size_t bytes) {
  UniqueFd file(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!file.valid()) return {};
  const off_t size = ::lseek(file.get(), 0, SEEK_END);
  if (size <= 0) return {};
  const off_t start = static_cast<size_t>(size) > bytes ? size - static_cast<off_t>(bytes) : 0;
  std::string tail(static_cast<size_t>(size - start), '\0');
  const ssize_t got = ::pread(file.get(), tail.data(), tail.size(), start);
  tail.resize(got > 0 ? static_cast<size_t>(got) : 0);
  return tail;
}

std::string last_line_of(const std::string& path) {
  std::string tail = tail_of(path, 4096);
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r')) tail.pop_back();
  const size_t newline = tail.rfind('\n');
  return newline == std::string::npos ? tail : tail.substr(newline + 1);
}

}  // namespace vmhive::daemon
