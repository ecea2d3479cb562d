// The honeyfarm's clones from start to end (docs/farm.md). Each is a
// `vmhive restore` of a profile's snapshot whose virtio-net device is a
// socket pair end the farm holds (--net fd=3), held before its first
// instruction (--hold-fd 4) until it is let go: every profile keeps its
// `ready` held clones restored ahead of need, and a snapshot that fails to
// restore is retried once a second. A clone taken for an address serves it
// until it is ended (reclaimed, evicted, failed or breached); an ended
// clone is killed and reaped as it goes, never waited for. A breached
// clone's address is unbound; with a forensics directory the clone is
// asked on its control socket to snapshot itself there and stop, without
// one it is ended at once. A serving clone that ends by itself is a breach
// too.
//
// The fleet makes its clones' sockets; the event loop that waits on them
// (the gateway's) is a CloneSocketWatcher and hands back what became
// readable: on_hold, on_forensics.
//
// Events: "ready", "clone_failed", "clone_exited", "forensics", the
// "breach" of a clone that ended by itself, and what an ending names.
#pragma once

#include <signal.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "clones/child_process.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "control/control_client.h"
#include "farm/address_table.h"
#include "farm/containment.h"
#include "farm/farm_config.h"
#include "farm/farm_events.h"
#include "packet/rewrite.h"

namespace vmhive::farm {

struct Clone {
  CloneId id = 0;
  unsigned profile = 0;
  clones::ChildProcess process;
  UniqueFd link;  // our end of its --net socket
  UniqueFd hold;  // our end of its --hold-fd socket, until it is let go
  UniqueFd alerts;  // our end of its --alert-fd socket (with write-protected text)
  bool ready = false;
  bool live = false;
  uint32_t outside_address = 0;
  packet::MacAddress peer_mac{};  // where its replies go on the outside link
  FlowMemory flows{};             // flows that reached it, and who started each
  RateLimit rate_limit{};
  uint64_t contained = 0, reflected = 0, dns_queries = 0;  // events reported so far
  bool breached = false;  // snapshotted for forensics (or being): no longer bound, nothing sent outside
  std::optional<control::PendingRequest> forensics{};
  std::string forensics_snapshot{};
};

// A clone's socket that the fleet asks to have waited on.
enum class CloneSocket {
  kHold,       // its --hold-fd socket: ready (or failed) to restore
  kAlerts,     // its --alert-fd socket: its VMM reports a write to protected text
  kForensics,  // the control connection of its forensic snapshot
};

// The event loop the fleet's sockets are waited on in.
class CloneSocketWatcher {
 public:
  virtual ~CloneSocketWatcher() = default;
  virtual Result<void> watch(int fd, CloneSocket socket, CloneId clone) = 0;
  virtual void unwatch(int fd) = 0;
};

class CloneFleet {
 public:
  struct Counters {
    uint64_t clone_failures = 0, breaches = 0;
  };

  // Clones are restored by `binary` and start with `signal_mask`; an ending
  // unbinds a serving clone's address in `table`.
  CloneFleet(const FarmConfig& config, std::string binary, const sigset_t& signal_mask, CloneSocketWatcher& watcher,
             AddressTable& table, FarmEvents& events)
      : config_(config),
        binary_(std::move(binary)),
        signal_mask_(signal_mask),
        watcher_(watcher),
        table_(table),
        events_(events) {}

  // The clone, while it has not ended; null after.
  Clone* find(CloneId id) {
    const auto found = clones_.find(id);
    return found == clones_.end() ? nullptr : found->second.get();
  }
  // A held clone of `profile` for a new address: a ready one, else one still
  // restoring, else one started now. Null only if none can be started.
  Clone* take_held(unsigned profile);
  // "go": its vCPUs start and its device serves the frames already waiting on its link.
  void let_go(Clone& clone);
  // Starts the held clones each profile is short of.
  void refill();
  // Its hold socket became readable: it is ready (or failed to restore).
  void on_hold(CloneId id);

  // A serving clone that did what a clean one does not: breached, its
  // address unbound, and `alert` sent (with the snapshot's directory); with
  // a forensics directory it is snapshotted and stops, without one it is
  // ended at once. True if it was ended (the caller must not touch it).
  bool retire_breached(Clone& clone, nlohmann::ordered_json alert);
  // Its forensic snapshot's connection became readable.
  void on_forensics(CloneId id);
  // Every forensic snapshot still waiting: one whose answer never comes ends at its deadline.
  void advance_forensics();

  // Kills the clone (reaped as it goes); a serving clone's address is
  // unbound, and `event` (if any) reported.
  void end(CloneId id, const char* event = nullptr);
  // Reaps the killed, and ends clones that have ended by themselves.
  void reap();
  // Ends every clone and waits until each has gone.
  void end_all();

  const Counters& counters() const { return counters_; }
  // Clones serving an address, and clones held ready (or restoring).
  std::pair<size_t, size_t> live_and_held() const {
    size_t live = 0;
    for (const auto& [id, clone] : clones_) live += clone->live ? 1 : 0;
    return {live, clones_.size() - live};
  }

 private:
  Result<void> spawn_held(unsigned profile);
  void mark_breached(Clone& clone);
  // The forensic snapshot's answer; a clone whose snapshot failed is ended
  // (true: the caller must not touch it any more).
  bool finish_forensics(Clone& clone, const Result<std::string>& outcome);
  std::string console_file(CloneId id) const { return config_.console_dir + "/clone-" + std::to_string(id) + ".log"; }
  std::string control_socket(CloneId id) const {
    return config_.forensics_dir + "/sockets/clone-" + std::to_string(id) + ".sock";
  }

  const FarmConfig& config_;
  std::string binary_;
  sigset_t signal_mask_;
  CloneSocketWatcher& watcher_;
  AddressTable& table_;
  FarmEvents& events_;
  std::unordered_map<CloneId, std::unique_ptr<Clone>> clones_;
  std::vector<clones::ChildProcess> dying_;  // killed, reaped as they go
  CloneId next_id_ = 1;
  Clock::time_point last_failure_{};
  bool announced_ready_ = false;
  Counters counters_;
};

}  // namespace vmhive::farm
