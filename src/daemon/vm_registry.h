// The VMs the daemon manages, and every operation on them: each VM is its
// own `vmhive run` process (vm_process.h), so one that crashes or is killed
// takes nothing else with it. The registry keeps the records in the state
// directory, watches each process through its pidfd, reaps it when it ends
// and says why in an event, and on start finds the VMs of an earlier daemon
// again (their processes keep running across a daemon restart).
#pragma once

#include <poll.h>

#include <chrono>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "config/vm_spec.h"
#include "control/control_client.h"
#include "daemon/clone_pool.h"
#include "daemon/event_log.h"
#include "daemon/state_store.h"
#include "daemon/vm_process.h"
#include "daemon/vm_record.h"

namespace vmhive::daemon {

struct RegistryOptions {
  std::string vmhive_binary;             // the `vmhive` each VM runs as
  std::vector<std::string> vm_args;      // extra arguments for every VM process (e.g. --no-seccomp)
  std::chrono::milliseconds stop_timeout{10000};  // graceful stop, then SIGTERM; as long again, then SIGKILL
  std::string console_limit = "1M";      // each VM's console log stops growing here
  // Every VM runs jailed in <state>/vms/<name>/jail as this user (vmhive run --jail).
  bool jail = false;
  std::string jail_user;                 // UID[:GID]; empty: vmhive's default (65534)
  size_t max_vms = 4096;
};

// What a graceful stop sends to the guest's console, unless the VM's labels
// say otherwise ("vmhive.stop-input"): a shell's `poweroff`.
inline constexpr char kDefaultStopInput[] = "poweroff\n";
inline constexpr char kStopInputLabel[] = "vmhive.stop-input";
// How long the VM's process has to answer a pause or resume, and a snapshot.
inline constexpr std::chrono::milliseconds kControlTimeout{5000};
inline constexpr std::chrono::milliseconds kSnapshotTimeout{120000};
// A pool's held VM has this long from "go" to "running".
inline constexpr std::chrono::milliseconds kHeldStartTimeout{5000};
inline constexpr size_t kMaxPools = 64;
inline constexpr size_t kMaxHeldVms = 1024;  // over all pools
// How long /metrics and inspect wait for the VMs' own counters.
inline constexpr std::chrono::milliseconds kStatsTimeout{500};

class VmRegistry {
 public:
  static Result<std::unique_ptr<VmRegistry>> open(StateStore& store, EventLog& events, RegistryOptions options,
                                                   std::vector<std::string>* warnings);

  Result<VmRecord> create(config::VmSpec spec);
  // A VM that starts from a snapshot directory (`vmhive restore`): created
  // and started. `labels` are its own; the snapshot's devices come with it.
  // From a ready pool of that snapshot when one has a VM ready (it only has
  // to be let go), else restored now.
  Result<VmRecord> restore(const std::string& name, RestoreSource source, std::map<std::string, std::string> labels);

  // Ready pools (clone_pool.h), kept in pools.json across daemon restarts.
  // put_pool makes or replaces one; replacing lets its held VMs go.
  Result<nlohmann::ordered_json> put_pool(PoolSpec spec);
  Result<void> remove_pool(const std::string& name);
  Result<nlohmann::ordered_json> describe_pool(const std::string& name) const;
  nlohmann::ordered_json describe_pools() const;
  Result<VmRecord> start(const std::string& name);
  // Operations the VM's own process has to answer (through its control
  // socket) are asked without blocking the event loop: the result is either
  // there at once (an error, or nothing to do: the record) or nullopt, and
  // then `done` gets it from a later after_poll() (never from within the call).
  using RecordDone = std::function<void(Result<VmRecord>)>;
  using JsonDone = std::function<void(Result<nlohmann::json>)>;
  Result<std::optional<VmRecord>> pause(const std::string& name, RecordDone done);
  Result<std::optional<VmRecord>> resume(const std::string& name, RecordDone done);
  // Graceful: the stop input to the guest's console, SIGTERM after the
  // timeout, SIGKILL after another. `force`: SIGKILL now.
  Result<VmRecord> stop(const std::string& name, bool force);
  // Only a VM that is not running (created or exited) unless `force`, which kills it first.
  Result<void> remove(const std::string& name, bool force);
  // Asks the VM process for a snapshot into `dir`; `done` gets its report.
  Result<void> snapshot(const std::string& name, const std::string& dir, bool resume, JsonDone done);
  Result<void> console_input(const std::string& name, std::string_view bytes);

  Result<VmRecord> find(const std::string& name) const;
  std::vector<VmRecord> list() const;
  // A VM's record with what its process uses now (inspect).
  Result<nlohmann::ordered_json> inspect(const std::string& name) const;
  // A running VM's own counters (exits by reason, each device's work), asked
  // of its process; `done` gets them.
  // From its counters file at once when it has one, else asked (nullopt:
  // `done` gets them).
  Result<std::optional<nlohmann::json>> vm_stats(const std::string& name, JsonDone done);
  // Prometheus text for every VM (GET /metrics): at once when no VM has to
  // be asked for its counters, else nullopt and `done` gets it later.
  std::optional<std::string> metrics(std::function<void(std::string)> done);
  const StateStore& store() const { return store_; }

  // The event loop's part: pidfds to poll, the next stop deadline, and what
  // to do when poll returns.
  void add_poll_fds(std::vector<pollfd>& fds) const;
  int poll_timeout_ms() const;
  // `polled`: the entries add_poll_fds added, with poll's answers.
  void after_poll(std::span<const pollfd> polled);

 private:
  struct ManagedVm {
    VmRecord record;
    std::optional<VmProcess> process;
    std::optional<std::chrono::steady_clock::time_point> stop_deadline;  // next escalation of a stop
    int stop_escalations = 0;
    bool stop_requested = false;
    bool switching = false;  // a pause or resume has been asked of the VM and not answered yet
  };

  VmRegistry(StateStore& store, EventLog& events, RegistryOptions options)
      : store_(store), events_(events), options_(std::move(options)) {}
  Result<ManagedVm*> managed(const std::string& name);
  Result<const ManagedVm*> managed(const std::string& name) const;
  Result<void> check_new_name(const std::string& name) const;
  LaunchSpec launch_spec(const VmRecord& record) const;
  // A request to a running VM's control socket, answered through the loop.
  struct PendingControl {
    std::string vm;
    pid_t pid;
    control::PendingRequest request;
    JsonDone done;  // the reply's members (reply_members), or the error
  };
  static Error conflict(const VmRecord& record, const std::string& what);
  // The reply of a control request: its members, or its error (read type-safely).
  static Result<nlohmann::json> reply_members(const std::string& reply);
  // vm_registry_requests.cc: answers, failures and deadlines of pending requests.
  void settle_requests(const std::set<int>& ready_fds);
  void ask_vm(const ManagedVm& vm, std::string request, std::chrono::milliseconds timeout, JsonDone done,
              bool wait_for_socket = true);
  ManagedVm* still_running(const std::string& name, pid_t pid);
  std::optional<VmRecord> switch_state(ManagedVm& vm, const char* op, VmPhase phase, const char* event,
                                       RecordDone done);
  void save(ManagedVm& vm);
  void ended(ManagedVm& vm);
  void escalate_stop(ManagedVm& vm);
  // Lets a pool's held VM run as VM `name`; an error leaves nothing behind
  // (the caller restores instead).
  Result<VmRecord> start_held(const std::string& name, RestoreSource source, std::map<std::string, std::string> labels,
                              HeldVm held, const std::string& pool);
  void save_pools();
  // vm_registry_reports.cc: the metrics /proc gives, and those made of the
  // VMs' answers to a stats request (a VM that did not answer is left out).
  std::string usage_metrics() const;
  static std::string stats_metrics(const std::vector<std::pair<std::string, nlohmann::json>>& stats);

  StateStore& store_;
  EventLog& events_;
  RegistryOptions options_;
  std::map<std::string, ManagedVm> vms_;
  std::map<std::string, std::unique_ptr<ClonePool>> pools_;  // destroyed first: held VMs let go
  std::list<PendingControl> pending_;
  // Requests settled outside the loop's walk (their VM ended, or they failed
  // at once): their callbacks run from the next after_poll().
  std::vector<std::pair<JsonDone, Result<nlohmann::json>>> settled_;
  // pools.json entries that could not be set up when the daemon started: kept, with why.
  std::map<std::string, std::pair<nlohmann::json, std::string>> unset_pools_;
  bool loading_pools_ = false;  // their VM ended: answered by the next after_poll()
};

}  // namespace vmhive::daemon
