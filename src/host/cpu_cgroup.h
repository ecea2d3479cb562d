// A VM process's own place in the cpu cgroup controller, for its CPU weight
// and cap (config/vm_config.h CpuPolicy): cgroup v2 (cpu.weight, cpu.max)
// where the host has the unified hierarchy with the cpu controller, v1
// (cpu.shares, cpu.cfs_quota_us) otherwise, as on this host. The cgroup is
// made under the process's current one (vmhive/<id>), the whole process
// moved in, and on destruction moved back and the cgroup removed. Opened
// descriptors do that last part, so it works from a jail or under seccomp.
#pragma once

#include <sys/types.h>

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
  CpuCgroup(Version version, std::string path, std::string name, UniqueFd parent, UniqueFd home_procs)
      : version_(version), path_(std::move(path)), name_(std::move(name)), parent_(std::move(parent)),
        home_procs_(std::move(home_procs)) {}

  Version version_;
  std::string path_;
  std::string name_;     // the cgroup's name in parent_
  UniqueFd parent_;      // the vmhive/ directory holding it
  UniqueFd home_procs_;  // cgroup.procs of where the process was
};

// CpuCgroup::place on a helper thread, for a process that has other work to
// do meanwhile (building its machine): moving a process into a cgroup v1
// hierarchy waits for an RCU grace period in the kernel (7 ms to over 100 ms
// measured on this host). Threads inherit the cgroup of the thread that
// starts them, so finish() must come before the process starts any other.
class CgroupPlacement {
 public:
  CgroupPlacement(CpuPolicy cpu, std::string id)
      : thread_([this, cpu = std::move(cpu), id = std::move(id)] { result_.emplace(CpuCgroup::place(cpu, id)); }) {}
  CgroupPlacement(const CgroupPlacement&) = delete;
  CgroupPlacement& operator=(const CgroupPlacement&) = delete;
  ~CgroupPlacement() = default;  // joins

  // Waits for the move; its outcome (once).
  Result<CpuCgroup> finish() {
    thread_.join();
    return std::move(*result_);
  }

 private:
  std::optional<Result<CpuCgroup>> result_;  // set by the thread before it ends
  std::jthread thread_;                      // declared last: started once result_ exists
};

}  // namespace vmhive::host
