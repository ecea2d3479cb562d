// A VM process's own place in the cpu cgroup controller, for its CPU weight
// and cap (config/vm_config.h CpuPolicy): cgroup v2 (cpu.weight, cpu.max)
// where the host has the unified hierarchy with the cpu controller, v1
// (cpu.shares, cpu.cfs_quota_us) otherwise, as on this host. The cgroup is
// made under the process's current one (vmhive/<id>), the whole process
// moved in, and on destruction moved back and the cgroup removed. Opened
// descriptors do that last part, so it works from a jail or under seccomp.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/result.h"
#include "common/unique_fd.h"
#include "config/vm_config.h"

namespace vmhive::host {

class CpuCgroup {
 public:
  enum class Version { kV1, kV2 };

  // Needs root (or a delegated cgroup). `id` names the cgroup (name_for();
  // no '/'). Cgroups of earlier VMs whose process is gone (one that could not
  // move back out, e.g. after changing user in a jail) are removed first.
  static Result<CpuCgroup> place(const CpuPolicy& cpu, const std::string& id);
  // place() in two steps: prepare() makes and sets up the cgroup and opens
  // what the rest needs (fast); move_in() moves the process in (the slow
  // part on v1, see CgroupPlacement), making no system call but write.
  static Result<CpuCgroup> prepare(const CpuPolicy& cpu, const std::string& id);
  Result<void> move_in();
  // "<name>-<pid>" ("vm-<pid>" for an unnamed VM): unique while the process lives.
  static std::string name_for(const std::string& vm_name, pid_t pid);
  CpuCgroup(CpuCgroup&& other) noexcept = default;
  CpuCgroup& operator=(CpuCgroup&&) = delete;
  ~CpuCgroup();

  Version version() const { return version_; }
  const std::string& path() const { return path_; }  // the cgroup's directory

  // What a policy becomes in each version (exposed for tests).
  static uint64_t v1_shares(uint32_t weight) { return uint64_t{weight} * 1024 / CpuPolicy::kDefaultWeight; }
  static constexpr uint64_t kPeriodUs = 100'000;
  static uint64_t quota_us(uint32_t cap_percent) { return uint64_t{cap_percent} * kPeriodUs / 100; }

 private:
  CpuCgroup(Version version, std::string path, std::string name, UniqueFd parent, UniqueFd procs, UniqueFd home_procs)
      : version_(version), path_(std::move(path)), name_(std::move(name)), pid_text_(std::to_string(::getpid())),
        parent_(std::move(parent)), procs_(std::move(procs)), home_procs_(std::move(home_procs)) {}

  Version version_;
  std::string path_;
  std::string name_;      // the cgroup's name in parent_
  std::string pid_text_;  // this process, as cgroup.procs takes it
  UniqueFd parent_;       // the vmhive/ directory holding it
  UniqueFd procs_;        // its own cgroup.procs
  UniqueFd home_procs_;   // cgroup.procs of where the process was
  bool moved_in_ = false;
};

// Puts a process that is starting a VM into its cgroup without holding up
// the VM: moving a process into a cgroup v1 hierarchy waits for an RCU
// grace period in the kernel (7 ms to over 100 ms measured on this host),
// longer than building a small machine. A helper thread prepares the
// cgroup (prepared() waits for that: it is where a cgroup fails), then
// confines itself with `confine_mover` (the VM's threads drop their
// capabilities and load their filters later, and this one outlives that),
// then moves the whole process in while the VM goes on starting: the
// kernel moves every thread the process has by then, and threads started
// afterwards inherit the cgroup. The weight and cap therefore apply from a
// few milliseconds after the vCPUs start.
class CgroupPlacement {
 public:
  CgroupPlacement(CpuPolicy cpu, std::string id, std::function<Result<void>()> confine_mover);
  CgroupPlacement(const CgroupPlacement&) = delete;
  CgroupPlacement& operator=(const CgroupPlacement&) = delete;
  // Waits for the move; then, as CpuCgroup's own destructor, moves the
  // process back and removes the cgroup.
  ~CgroupPlacement() = default;

  // Waits until the cgroup is made and set up; its outcome.
  Result<void> prepared();
  // Waits for the move as well; its outcome.
  Result<void> finish();

 private:
  void place(const CpuPolicy& cpu, const std::string& id, const std::function<Result<void>()>& confine_mover);

  std::optional<CpuCgroup> cgroup_;      // made by the helper before it reports prepared
  std::optional<Error> prepare_error_;   // or why it was not
  std::optional<Error> move_error_;      // set by the helper before it ends
  std::mutex mutex_;
  std::condition_variable prepared_changed_;
  bool prepare_done_ = false;
  std::jthread thread_;  // declared last: joined first, started once the rest exists
};

}  // namespace vmhive::host
