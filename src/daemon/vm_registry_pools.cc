// The registry's ready pools (clone_pool.h): set, removed, described, kept
// in pools.json, and a held VM let go as a VM of the registry.
#include <signal.h>
#include <sys/stat.h>

#include "clones/hold_protocol.h"
#include "daemon/vm_registry.h"

namespace vmhive::daemon {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

Result<nlohmann::ordered_json> VmRegistry::put_pool(PoolSpec spec) {
  if (options_.jail)
    return make_error(ErrorKind::kConflict, "ready pools are not supported with vmhived --jail yet");
  if (pools_.count(spec.name) == 0 && pools_.size() >= kMaxPools)
    return make_error(ErrorKind::kUnavailable, "the daemon keeps " + std::to_string(pools_.size()) + " pools, its limit");
  size_t held = spec.size;
  for (const auto& [other, pool] : pools_)
    if (other != spec.name) held += pool->spec().size;
  if (held > kMaxHeldVms)
    return make_error(ErrorKind::kInvalid, "size: the pools would hold " + std::to_string(held) +
                                               " VMs; the daemon holds at most " + std::to_string(kMaxHeldVms));
  struct stat info {};
  if (::stat(spec.snapshot_dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode))
    return make_error(ErrorKind::kInvalid, "snapshot: " + spec.snapshot_dir + " is not a directory");
  const std::string name = spec.name;
  pools_.erase(name);  // a replaced pool lets its held VMs go
  auto pool = std::make_unique<ClonePool>(
      std::move(spec), store_, HeldLaunch{options_.vmhive_binary, options_.vm_args, options_.console_limit});
  pool->refill();
  nlohmann::ordered_json described = pool->describe();
  pools_[name] = std::move(pool);
  unset_pools_.erase(name);
  if (!loading_pools_) save_pools();
  events_.record("", "pool_set", described);
  return described;
}

Result<void> VmRegistry::remove_pool(const std::string& name) {
  if (pools_.erase(name) + unset_pools_.erase(name) == 0)
    return make_error(ErrorKind::kNotFound, "no pool named '" + name + "'");
  save_pools();
  events_.record("", "pool_removed", {{"name", name}});
  return {};
}

Result<nlohmann::ordered_json> VmRegistry::describe_pool(const std::string& name) const {
  const auto found = pools_.find(name);
  if (found != pools_.end()) return found->second->describe();
  const auto unset = unset_pools_.find(name);
  if (unset == unset_pools_.end()) return make_error(ErrorKind::kNotFound, "no pool named '" + name + "'");
  return nlohmann::ordered_json{{"name", name}, {"saved", unset->second.first}, {"error", unset->second.second}};
}

nlohmann::ordered_json VmRegistry::describe_pools() const {
  nlohmann::ordered_json pools = nlohmann::ordered_json::array();
  for (const auto& [name, pool] : pools_) pools.push_back(pool->describe());
  for (const auto& [name, unset] : unset_pools_)
    pools.push_back({{"name", name}, {"saved", unset.first}, {"error", unset.second}});
  return pools;
}

void VmRegistry::save_pools() {
  nlohmann::ordered_json pools = nlohmann::ordered_json::array();
  for (const auto& [name, pool] : pools_) pools.push_back(pool_spec_to_json(pool->spec()));
  for (const auto& [name, unset] : unset_pools_) pools.push_back(nlohmann::ordered_json::parse(unset.first.dump()));
  if (auto saved = store_.save_pools(pools); !saved.ok())
    events_.record("", "error", {{"message", "cannot save pools.json: " + saved.error().message}});
}

Result<VmRecord> VmRegistry::start_held(const std::string& name, RestoreSource source,
                                        std::map<std::string, std::string> labels, HeldVm held,
                                        const std::string& pool) {
  const auto asked = Clock::now();
  const auto give_up = [&](const Error& error) -> Error {
    (void)held.process.signal(SIGKILL);
    (void)held.process.reap();
    (void)store_.remove_held_dir(held.dir_name);
    return error;
  };
  VmRecord record;
  record.name = name;
  record.spec.name = name;
  record.spec.labels = std::move(labels);
  record.restore = std::move(source);
  if (auto go = clones::send_go(held.hold.get()); !go.ok()) return give_up(go.error());
  if (auto running = clones::wait_for_running(held.hold.get(), asked + kHeldStartTimeout); !running.ok())
    return give_up(running.error());
  held.hold = UniqueFd();
  const double start_ms = std::chrono::duration<double, std::milli>(Clock::now() - asked).count();
  record.phase = VmPhase::kRunning;
  record.pid = held.process.pid();
  record.pid_start_ticks = held.process.start_ticks();
  record.created_ms = record.started_ms = wall_clock_ms();
  record.starts = 1;
  if (auto adopted = store_.adopt_held_dir(held.dir_name, record); !adopted.ok()) return give_up(adopted.error());
  events_.record(name, "created", {{"snapshot", record.restore->snapshot_dir}, {"pool", pool}});
  events_.record(name, "started", {{"pid", record.pid}, {"pool", pool}, {"start_ms", start_ms}});
  ManagedVm vm{record, std::move(held.process), std::nullopt, 0, false};
  return vms_.emplace(name, std::move(vm)).first->second.record;
}

}  // namespace vmhive::daemon
