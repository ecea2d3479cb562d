#include "vmm/vcpu_threads.h"

#include <time.h>
#include "common/errno_error.h"

#include <signal.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <string>

namespace vmhive {
namespace {

constexpr int kKickSignal = SIGUSR1;

void ignore_kick(int) {}

}  // namespace

Result<void> VcpuThreads::install_kick_handler() {
  struct sigaction action {};
  action.sa_handler = ignore_kick;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: KVM_RUN must come back with EINTR
  if (::sigaction(kKickSignal, &action, nullptr) < 0) {
    return errno_error("sigaction(SIGUSR1) failed");
  }
  return {};
}

Result<void> VcpuThreads::start(const VcpuLoopContext& context, const std::function<Result<void>()>& confine) {
  std::promise<Result<void>> confined;
  std::future<Result<void>> outcome = confined.get_future();
  std::thread thread;
  try {
    thread = std::thread([context, &confine, &confined] {
      Result<void> result = confine ? confine() : Result<void>();
      const bool ok = result.ok();
      confined.set_value(std::move(result));
      if (ok) run_vcpu_loop(context);
    });
  } catch (const std::system_error& error) {
    return make_error("cannot start the thread of vCPU " + std::to_string(context.vcpu->index()) + ": " +
                      error.what());
  }
  std::string name = "vcpu" + std::to_string(context.vcpu->index());
  ::pthread_setname_np(thread.native_handle(), name.c_str());
  Result<void> result = outcome.get();
  if (!result.ok()) {
    thread.join();
    return with_context("vCPU " + std::to_string(context.vcpu->index()), result.error());
  }
  std::lock_guard lock(mutex_);
  running_.push_back(Running{context.vcpu, std::move(thread)});
  return {};
}

void VcpuThreads::kick_all() {
  std::lock_guard lock(mutex_);
  for (auto& running : running_) {
    running.vcpu->request_immediate_exit();
    ::pthread_kill(running.thread.native_handle(), kKickSignal);
  }
}

void VcpuThreads::join_all() {
  // Kick first: a kick from another thread may have found nothing to kick
  // if it raced with an earlier join_all, and joining must not wait on a
  // vCPU that is still inside KVM_RUN.
  kick_all();
  std::vector<Running> to_join;
  {
    std::lock_guard lock(mutex_);
    to_join.swap(running_);
  }
  for (auto& running : to_join) {
    if (running.thread.joinable()) running.thread.join();
  }
}

double VcpuThreads::cpu_seconds() {
  std::lock_guard lock(mutex_);
  double seconds = 0;
  for (Running& running : running_) {
    clockid_t clock;
    timespec used{};
    if (!running.thread.joinable() || ::pthread_getcpuclockid(running.thread.native_handle(), &clock) != 0 ||
        ::clock_gettime(clock, &used) != 0)
      continue;
    seconds += static_cast<double>(used.tv_sec) + static_cast<double>(used.tv_nsec) / 1e9;
  }
  return seconds;
}

}  // namespace vmhive
