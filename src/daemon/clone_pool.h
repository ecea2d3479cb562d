// A ready pool the daemon keeps for one snapshot (PUT /pools/{name}): `size`
// VM processes restored and held before they run (`vmhive restore
// --hold-fd 3`: KVM VM and vCPUs made, state loaded, memory file mapped,
// devices built), as `vmhive clone-server` keeps them. A clone request for
// that snapshot takes a ready one instead of restoring: it says "go"
// (clones/hold_protocol.h), the held VM's directory moves to vms/<name>
// and the VM is the registry's like any other; a replacement is restored
// behind it. Each held VM lives in <state>/held/<pool>.<n>/ with the files a
// VM directory has (state_store.h).
#pragma once

#include <poll.h>

#include <chrono>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "common/unique_fd.h"
#include "daemon/state_store.h"
#include "daemon/vm_process.h"
#include "daemon/vm_record.h"

namespace vmhive::daemon {

inline constexpr unsigned kMaxPoolSize = 256;
inline constexpr size_t kMaxPoolNameLength = 40;  // room for ".<n>" within a name's 64 characters

struct PoolSpec {
  std::string name;                // config::check_name
  std::string snapshot_dir;        // absolute
  std::vector<std::string> disks;  // read-only images the snapshot uses in place (restore --disk)
  unsigned size = 1;               // 1 to kMaxPoolSize
  bool operator==(const PoolSpec&) const = default;
};

nlohmann::ordered_json pool_spec_to_json(const PoolSpec& spec);
// Strict, as a request body or pools.json holds it: unknown members, wrong
// types and values out of range are errors naming the member.
Result<PoolSpec> pool_spec_from_json(const nlohmann::json& document);

// One held VM: its process, waiting on the hold socket.
struct HeldVm {
  std::string dir_name;  // under <state>/held/
  VmProcess process;
  UniqueFd hold;         // our end of the hold socket pair
  bool ready = false;    // it said "ready"
};

// How a pool starts a held VM's process (the registry's launch options).
struct HeldLaunch {
  std::string vmhive_binary;
  std::vector<std::string> vm_args;
  std::string console_limit;
};

class ClonePool {
 public:
  ClonePool(PoolSpec spec, StateStore& store, HeldLaunch launch)
      : spec_(std::move(spec)), store_(store), launch_(std::move(launch)) {}
  ClonePool(const ClonePool&) = delete;
  ClonePool& operator=(const ClonePool&) = delete;
  ~ClonePool();  // lets every held VM go (killed before it ran) and removes its directory

  const PoolSpec& spec() const { return spec_; }
  // Whether a restore of `source` can be served from this pool.
  bool serves(const RestoreSource& source) const {
    return source.taps.empty() && source.snapshot_dir == spec_.snapshot_dir && source.disks == spec_.disks;
  }
  size_t ready_count() const;
  size_t restoring_count() const { return held_.size() - ready_count(); }
  uint64_t failures() const { return failures_; }
  uint64_t taken() const { return taken_; }
  const std::string& last_failure() const { return last_failure_; }
  nlohmann::ordered_json describe() const;

  // Starts restores until `size` are held, unless one failed in the last
  // second (a snapshot that cannot be restored is retried once a second,
  // not in a loop).
  void refill();
  // The oldest ready held VM, out of the pool (refill() replaces it).
  std::optional<HeldVm> take_ready();

  // The event loop's part: hold sockets of VMs still restoring and every
  // held process's pidfd; `ready_fds` are the fds poll found readable.
  void add_poll_fds(std::vector<pollfd>& fds) const;
  int poll_timeout_ms() const;  // -1, or when a refill is due
  void after_poll(const std::set<int>& ready_fds);

 private:
  Result<void> spawn_one();
  void let_go(HeldVm& held);
  void failed(const std::string& message);

  PoolSpec spec_;
  StateStore& store_;
  HeldLaunch launch_;
  std::deque<HeldVm> held_;  // oldest first
  uint64_t next_serial_ = 0;
  uint64_t failures_ = 0;
  uint64_t taken_ = 0;
  std::string last_failure_;
  std::chrono::steady_clock::time_point last_failure_at_{};
};

}  // namespace vmhive::daemon
