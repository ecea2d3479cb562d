#include "clones/clone_command.h"

#include <poll.h>
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <unordered_map>

#include "clones/child_process.h"
#include "common/errno_error.h"
#include "common/signal_fd.h"

namespace vmhive::clones {

Result<int> run_clones(const CloneOptions& options, unsigned count, const std::string& vmhive_binary) {
  VMHIVE_CHECK(prepare_clones(options));
  // Blocked before the first clone starts, so that no SIGCHLD is missed.
  SignalFd signals = VMHIVE_TRY(SignalFd::block({SIGINT, SIGTERM, SIGHUP, SIGCHLD}));

  const auto start = std::chrono::steady_clock::now();
  std::unordered_map<pid_t, ChildProcess> running;
  std::string failure;
  for (unsigned index = 0; index < count; ++index) {
    auto clone = ChildProcess::spawn(
        {.argv = restore_arguments(options, vmhive_binary, index), .signal_mask = signals.previous_mask()});
    if (!clone.ok()) {
      failure = "clone " + std::to_string(index) + ": " + clone.error().message;
      break;
    }
    std::printf("clone-%u pid %d\n", index, static_cast<int>(clone->pid()));
    running.emplace(clone->pid(), std::move(*clone));
  }
  std::fflush(stdout);
  const double started_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "vmhive: %zu clones started in %.1f ms\n", running.size(), started_ms);
  if (!failure.empty()) {
    std::fprintf(stderr, "vmhive: %s; stopping the others\n", failure.c_str());
    for (auto& [pid, clone] : running) (void)clone.kill(SIGTERM);
  }

  unsigned failed = 0;
  while (!running.empty()) {
    pollfd readable{signals.fd(), POLLIN, 0};
    if (::poll(&readable, 1, -1) < 0 && errno != EINTR) return errno_error("poll failed");
    bool stop = false;
    while (const int signal = signals.take()) stop |= signal != SIGCHLD;
    if (stop) {
      for (auto& [pid, clone] : running) (void)clone.kill(SIGTERM);
    }
    collect_ended_children([&](pid_t pid) {
      const auto found = running.find(pid);
      if (found == running.end()) return false;
      const auto status = found->second.wait();
      if (!status.ok() || !status->success()) ++failed;
      running.erase(found);
      return true;
    });
  }
  if (failed != 0) std::fprintf(stderr, "vmhive: %u of %u clones did not exit with status 0\n", failed, count);
  return failed == 0 && failure.empty() ? 0 : 1;
}

}  // namespace vmhive::clones
