// One host thread per vCPU, and the kick that gets each out of KVM_RUN when
// the VM stops: immediate_exit in its run structure plus a signal (SIGUSR1)
// whose handler does nothing but interrupt the ioctl.
#pragma once

#include <pthread.h>

#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/result.h"
#include "vmm/vcpu_loop.h"

namespace vmhive {

class VcpuThreads {
 public:
  VcpuThreads() = default;
  VcpuThreads(const VcpuThreads&) = delete;
  VcpuThreads& operator=(const VcpuThreads&) = delete;
  ~VcpuThreads() { join_all(); }

  // Installs the kick signal's handler (no SA_RESTART). Once per process is
  // enough; calling it again is harmless.
  static Result<void> install_kick_handler();

  // Starts the vCPU's thread. `confine` (if given) runs first on the new
  // thread; start() waits for it and fails, with the thread gone, if it did.
  Result<void> start(const VcpuLoopContext& context, const std::function<Result<void>()>& confine = {});
  // Safe from any thread, including a vCPU thread, and while start() runs.
  void kick_all();
  // Kicks every vCPU out of KVM_RUN and waits for its thread; the caller
  // makes sure the loops see a stop first.
  void join_all();
  // Host CPU time the running vCPU threads have used, in seconds.
  double cpu_seconds();

 private:
  struct Running {
    const kvm::Vcpu* vcpu;
    std::thread thread;
  };
  std::mutex mutex_;
  std::vector<Running> running_;
};

}  // namespace vmhive
