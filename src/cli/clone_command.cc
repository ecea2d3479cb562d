#include "cli/clone_command.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <unordered_set>
#include <vector>

#include "snapshot/machine_state.h"
#include "snapshot/state_file.h"

namespace vmhive::cli {
namespace {

class BlockedSignals {
 public:
  BlockedSignals() {
    sigemptyset(&set_);
    for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&set_, signal);
    ::pthread_sigmask(SIG_BLOCK, &set_, &previous_);
  }
  ~BlockedSignals() { ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  BlockedSignals(const BlockedSignals&) = delete;
  BlockedSignals& operator=(const BlockedSignals&) = delete;
  const sigset_t& set() const { return set_; }
  const sigset_t& previous() const { return previous_; }

 private:
  sigset_t set_;
  sigset_t previous_;
};

}  // namespace

Result<void> ensure_directory(const std::string& dir, const char* option) {
  if (dir.empty()) return {};
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return make_error(std::string(option) + " " + dir + ": " + std::strerror(errno));
  return {};
}

Result<void> check_snapshot(const std::string& dir) {
  auto bytes = snapshot::read_whole_file(dir + "/state", snapshot::kMaxStateFileBytes);
  if (!bytes.ok()) return with_context("snapshot " + dir, bytes.error());
  auto file = snapshot::StateFile::parse(*bytes);
  if (!file.ok()) return with_context(dir + "/state", file.error());
  auto state = snapshot::decode_machine_state(*file);
  if (!state.ok()) return with_context(dir + "/state", state.error());
  struct stat memory {};
  if (::stat((dir + "/memory").c_str(), &memory) != 0)
    return make_error("snapshot memory file " + dir + "/memory: " + std::strerror(errno));
  if (static_cast<uint64_t>(memory.st_size) != state->description.memory_file_size)
    return make_error("snapshot memory file " + dir + "/memory is " + std::to_string(memory.st_size) +
                      " bytes, the state file says " + std::to_string(state->description.memory_file_size));
  return {};
}

std::vector<std::string> clone_restore_arguments(const CloneOptions& options, const std::string& vmhive_binary,
                                                 unsigned index) {
  const std::string name = "clone-" + std::to_string(index);
  std::vector<std::string> args{vmhive_binary, "restore", options.snapshot_dir};
  if (!options.console_dir.empty()) args.insert(args.end(), {"--console", options.console_dir + "/" + name + ".log"});
  if (!options.control_dir.empty()) args.insert(args.end(), {"--control", options.control_dir + "/" + name + ".sock"});
  if (!options.overlay_dir.empty()) args.insert(args.end(), {"--overlay-dir", options.overlay_dir, "--overlay-prefix", name});
  if (!options.tap_prefix.empty()) args.insert(args.end(), {"--net", "tap=" + options.tap_prefix + std::to_string(index)});
  return args;
}

Result<int> clone_command(const CloneOptions& options, const std::string& vmhive_binary) {
  const unsigned count = options.count;
  VMHIVE_CHECK(check_snapshot(options.snapshot_dir));
  VMHIVE_CHECK(ensure_directory(options.console_dir, "--console-dir"));
  VMHIVE_CHECK(ensure_directory(options.control_dir, "--control-dir"));
  VMHIVE_CHECK(ensure_directory(options.overlay_dir, "--overlay-dir"));

  BlockedSignals signals;
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setsigmask(&attributes, &signals.previous());
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGPIPE}) sigaddset(&defaults, signal);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);

  const auto start = std::chrono::steady_clock::now();
  std::unordered_set<pid_t> running;
  std::string failure;
  for (unsigned index = 0; index < count; ++index) {
    const std::string name = "clone-" + std::to_string(index);
    std::vector<std::string> args = clone_restore_arguments(options, vmhive_binary, index);
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    int error = ::posix_spawn(&pid, vmhive_binary.c_str(), &actions, &attributes, argv.data(), environ);
    if (error != 0) {
      failure = "starting clone " + std::to_string(index) + ": " + std::strerror(error);
      break;
    }
    running.insert(pid);
    std::printf("%s pid %d\n", name.c_str(), static_cast<int>(pid));
  }
  std::fflush(stdout);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  const double started_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "vmhive: %zu clones started in %.1f ms\n", running.size(), started_ms);
  if (!failure.empty()) {
    std::fprintf(stderr, "vmhive: %s; stopping the others\n", failure.c_str());
    for (pid_t pid : running) ::kill(pid, SIGTERM);
  }

  unsigned failed = 0;
  while (!running.empty()) {
    int signal = 0;
    if (::sigwait(&signals.set(), &signal) != 0) continue;
    if (signal != SIGCHLD) {
      for (pid_t pid : running) ::kill(pid, SIGTERM);
      continue;
    }
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      if (running.erase(pid) == 0) continue;
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
    }
  }
  if (failed != 0) std::fprintf(stderr, "vmhive: %u of %u clones did not exit with status 0\n", failed, count);
  return failed == 0 && failure.empty() ? 0 : 1;
}

}  // namespace vmhive::cli
