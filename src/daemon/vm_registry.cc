#include "daemon/vm_registry.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <thread>

#include "common/errno_error.h"
#include "common/fd_io.h"
#include "config/device_options.h"
#include "confinement/seccomp_filters.h"
#include "control/control_client.h"

namespace vmhive::daemon {
namespace {

using Clock = std::chrono::steady_clock;

bool is_live(VmPhase phase) {
  return phase == VmPhase::kRunning || phase == VmPhase::kPaused || phase == VmPhase::kStopping;
}

}  // namespace

Error VmRegistry::conflict(const VmRecord& record, const std::string& what) {
  return make_error(ErrorKind::kConflict,
                    "cannot " + what + " VM '" + record.name + "': it is " + phase_name(record.phase));
}

// The reply of a control request: its members, or its error.
Result<nlohmann::json> VmRegistry::reply_members(const std::string& reply) {
  const nlohmann::json document = nlohmann::json::parse(reply, nullptr, false);
  if (document.is_discarded() || !document.is_object()) return make_error("the VM's control socket answered garbage");
  // A VM process is not trusted to answer well: no member is read as a type it is not.
  const auto ok = document.find("ok");
  if (ok != document.end() && ok->is_boolean() && ok->get<bool>()) return document;
  const auto error = document.find("error");
  return make_error(ErrorKind::kConflict, error != document.end() && error->is_string() ? error->get<std::string>()
                                                                                     : "the VM refused the request");
}

namespace {

// Why a process ended, from how it ended and the last line it wrote.
std::string reason_for(const ProcessEnd& end, const std::string& message, bool stop_requested) {
  if (message.find("forbidden system call") != std::string::npos) return "seccomp";
  if (stop_requested) return "stopped";
  if (end.signal == SIGKILL) return "killed";
  if (end.signal) return "crashed";
  if (message.find("guest crashed") != std::string::npos) return "crashed";
  if (end.status && *end.status != 0) return "failed";
  return "exited";
}

}  // namespace

Result<std::unique_ptr<VmRegistry>> VmRegistry::open(StateStore& store, EventLog& events, RegistryOptions options,
                                                      std::vector<std::string>* warnings) {
  std::unique_ptr<VmRegistry> registry(new VmRegistry(store, events, std::move(options)));
  for (VmRecord& record : store.load_all(warnings)) {
    ManagedVm vm{std::move(record), std::nullopt, std::nullopt, 0, false};
    if (is_live(vm.record.phase)) {
      vm.process = VmProcess::adopt(vm.record.pid, vm.record.pid_start_ticks);
      if (vm.process) {
        events.record(vm.record.name, "adopted", {{"pid", vm.record.pid}, {"phase", phase_name(vm.record.phase)}});
        if (vm.record.phase == VmPhase::kStopping) {
          vm.stop_requested = true;
          vm.stop_deadline = Clock::now() + registry->options_.stop_timeout;
        }
      } else {
        // It ended while no daemon watched: how, only its log can tell.
        const std::string message = last_line_of(store.vm_file(vm.record.name, "vmm.log"));
        vm.record.phase = VmPhase::kExited;
        vm.record.exit = VmExit{std::nullopt, std::nullopt, "vanished", message, wall_clock_ms()};
        vm.record.pid = 0;
        events.record(vm.record.name, "exited", {{"reason", "vanished"}, {"message", message}});
        if (auto saved = store.save(vm.record); !saved.ok() && warnings) warnings->push_back(saved.error().message);
      }
    }
    std::string name = vm.record.name;
    registry->vms_.emplace(std::move(name), std::move(vm));
  }
  store.sweep_held_dirs();
  auto pools = store.load_pools();
  if (!pools.ok() || !(pools->is_null() || pools->is_array())) {
    if (warnings) warnings->push_back("ignoring pools.json: " + (pools.ok() ? std::string("not an array") : pools.error().message));
  } else if (pools->is_array()) {
    // A pool that cannot be set up now (its snapshot on a mount not there
    // yet, say) is kept in pools.json and listed with its error, never dropped.
    registry->loading_pools_ = true;
    for (const nlohmann::json& entry : *pools) {
      auto spec = pool_spec_from_json(entry);
      auto set = spec.ok() ? registry->put_pool(*spec) : Result<nlohmann::ordered_json>(spec.error());
      if (set.ok()) continue;
      if (warnings) warnings->push_back("pool in pools.json not set up: " + set.error().message);
      const std::string name = entry.is_object() && entry.contains("name") && entry["name"].is_string()
                                   ? entry["name"].get<std::string>()
                                   : "pool-" + std::to_string(registry->unset_pools_.size());
      registry->unset_pools_[name] = {entry, set.error().message};
    }
    registry->loading_pools_ = false;
  }
  return registry;
}

Result<VmRegistry::ManagedVm*> VmRegistry::managed(const std::string& name) {
  const auto found = vms_.find(name);
  if (found == vms_.end()) return make_error(ErrorKind::kNotFound, "no VM named '" + name + "'");
  return &found->second;
}

Result<const VmRegistry::ManagedVm*> VmRegistry::managed(const std::string& name) const {
  const auto found = vms_.find(name);
  if (found == vms_.end()) return make_error(ErrorKind::kNotFound, "no VM named '" + name + "'");
  return &found->second;
}

void VmRegistry::save(ManagedVm& vm) {
  if (auto saved = store_.save(vm.record); !saved.ok())
    events_.record(vm.record.name, "error", {{"message", "cannot save the VM's record: " + saved.error().message}});
}

Result<void> VmRegistry::check_new_name(const std::string& name) const {
  if (name.empty()) return make_error(ErrorKind::kInvalid, "name: a VM made through the daemon needs a name");
  if (auto named = config::check_name(name); !named.ok()) return make_error(ErrorKind::kInvalid, named.error().message);
  if (vms_.count(name) != 0) return make_error(ErrorKind::kConflict, "a VM named '" + name + "' exists already");
  if (vms_.size() >= options_.max_vms)
    return make_error(ErrorKind::kUnavailable, "the daemon manages " + std::to_string(vms_.size()) + " VMs, its limit");
  return {};
}

Result<VmRecord> VmRegistry::restore(const std::string& name, RestoreSource source,
                                     std::map<std::string, std::string> labels) {
  VMHIVE_CHECK(check_new_name(name));
  if (source.snapshot_dir.empty() || source.snapshot_dir.front() != '/')
    return make_error(ErrorKind::kInvalid, "snapshot: an absolute path is needed");
  for (const std::string& tap : source.taps)
    if (auto checked = config::check_tap_name(tap, "taps"); !checked.ok())
      return make_error(ErrorKind::kInvalid, checked.error().message);
  for (const std::string& disk : source.disks)
    if (disk.empty() || disk.front() != '/') return make_error(ErrorKind::kInvalid, "disks: absolute paths are needed");
  // Whether it is a snapshot the VM process finds out, with the whole check
  // (snapshot/snapshot_dir.h); here only that there is a directory.
  struct stat info {};
  if (::stat(source.snapshot_dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode))
    return make_error(ErrorKind::kInvalid, "snapshot: " + source.snapshot_dir + " is not a directory");
  if (auto checked = config::check_labels(labels); !checked.ok())
    return make_error(ErrorKind::kInvalid, checked.error().message);
  for (auto& [pool_name, pool] : pools_) {
    if (!pool->serves(source)) continue;
    std::optional<HeldVm> held = pool->take_ready();
    if (!held) break;
    pool->refill();
    auto started = start_held(name, source, labels, std::move(*held), pool_name);
    if (started.ok()) return started;
    events_.record(name, "pool_miss", {{"pool", pool_name}, {"message", started.error().message}});
    break;  // restored the slow way below
  }
  VmRecord record;
  record.name = name;
  record.spec.name = name;
  record.spec.labels = std::move(labels);
  if (auto checked = config::check_labels(record.spec.labels); !checked.ok())
    return make_error(ErrorKind::kInvalid, checked.error().message);
  record.restore = std::move(source);
  record.created_ms = wall_clock_ms();
  if (auto created = store_.create(record); !created.ok()) return make_error(ErrorKind::kConflict, created.error().message);
  events_.record(name, "created", {{"snapshot", record.restore->snapshot_dir}});
  vms_.emplace(name, ManagedVm{record, std::nullopt, std::nullopt, 0, false});
  return start(name);
}

Result<VmRecord> VmRegistry::create(config::VmSpec spec) {
  VMHIVE_CHECK(check_new_name(spec.name));
  // The daemon owns where a VM's console and control socket go.
  spec.console = "stdio";
  spec.control.clear();
  if (auto checked = config::make_vm_config(spec, config::probe_host()); !checked.ok())
    return make_error(ErrorKind::kInvalid, checked.error().message);
  for (const NetSpec& net : spec.nets)
    if (net.socket_fd >= 0)
      return make_error(ErrorKind::kInvalid, "nets: fd " + std::to_string(net.socket_fd) +
                                                 " is for a process that inherits the socket; vmhived's VMs take taps");
  VmRecord record;
  record.name = spec.name;
  record.spec = std::move(spec);
  record.created_ms = wall_clock_ms();
  if (auto created = store_.create(record); !created.ok()) {
    // Another daemon's leftover directory, say: never overwritten.
    return make_error(ErrorKind::kConflict, created.error().message);
  }
  events_.record(record.name, "created");
  for (const BackgroundSync::Failure& failure : store_.take_sync_failures())
    events_.record(failure.what, "error", {{"message", "cannot sync the VM's files to disk: " + failure.reason}});
  std::string name = record.name;
  return vms_.emplace(std::move(name), ManagedVm{record, std::nullopt, std::nullopt, 0, false}).first->second.record;
}

Result<VmRecord> VmRegistry::start(const std::string& name) {
  ManagedVm* vm = VMHIVE_TRY(managed(name));
  if (vm->record.phase != VmPhase::kCreated && vm->record.phase != VmPhase::kExited)
    return conflict(vm->record, "start");
  // Its counters file is made new by each process of the VM.
  ::unlink(store_.vm_file(name, "counters").c_str());
  auto process = VmProcess::launch(launch_spec(vm->record));
  if (!process.ok()) return with_context("cannot start VM '" + name + "'", process.error());
  vm->process.emplace(std::move(*process));
  vm->record.phase = VmPhase::kRunning;
  vm->record.pid = vm->process->pid();
  vm->record.pid_start_ticks = vm->process->start_ticks();
  vm->record.started_ms = wall_clock_ms();
  vm->record.starts += 1;
  vm->stop_requested = false;
  vm->stop_deadline.reset();
  vm->stop_escalations = 0;
  save(*vm);
  events_.record(name, "started", {{"pid", vm->record.pid}});
  return vm->record;
}

LaunchSpec VmRegistry::launch_spec(const VmRecord& record) const {
  const std::string& name = record.name;
  std::vector<std::string> args = options_.vm_args;
  if (options_.jail) {
    args.insert(args.end(), {"--jail", store_.vm_file(name, "jail")});
    if (!options_.jail_user.empty()) args.insert(args.end(), {"--jail-user", options_.jail_user});
  }
  // A jailed VM sees only its jail: its counters are asked for instead.
  return LaunchSpec{options_.vmhive_binary,
                    record.restore ? std::string() : store_.vm_file(name, "config.json"),
                    record.restore,
                    store_.vm_file(name, "control.sock"),
                    store_.vm_file(name, "console.log"),
                    options_.console_limit,
                    store_.vm_file(name, "vmm.log"),
                    store_.vm_file(name, "console.in"),
                    std::move(args),
                    options_.jail ? std::string() : store_.vm_file(name, "counters")};
}

Result<void> VmRegistry::console_input(const std::string& name, std::string_view bytes) {
  ManagedVm* vm = VMHIVE_TRY(managed(name));
  if (!vm->process) return conflict(vm->record, "send input to");
  // The VM holds its FIFO open for reading and writing, so this never blocks
  // on a missing reader; a full FIFO (a guest that does not read) is an error.
  UniqueFd fifo(::open(store_.vm_file(name, "console.in").c_str(), O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC));
  if (!fifo.valid()) return errno_error("cannot open the VM's console input");
  if (auto written = write_fully(fifo.get(), bytes); !written.ok())
    return make_error(ErrorKind::kUnavailable, "the guest is not taking console input: " + written.error().message);
  return {};
}

Result<VmRecord> VmRegistry::stop(const std::string& name, bool force) {
  ManagedVm* vm = VMHIVE_TRY(managed(name));
  if (!vm->process) return conflict(vm->record, "stop");
  vm->stop_requested = true;
  vm->record.phase = VmPhase::kStopping;
  if (force) {
    vm->stop_escalations = 2;
    (void)vm->process->signal(SIGKILL);
  } else {
    const auto label = vm->record.spec.labels.find(kStopInputLabel);
    const std::string input = label == vm->record.spec.labels.end() ? kDefaultStopInput : label->second;
    if (!console_input(name, input).ok()) escalate_stop(*vm);
  }
  vm->stop_deadline = Clock::now() + options_.stop_timeout;
  save(*vm);
  events_.record(name, "stopping", {{"force", force}});
  return vm->record;
}

void VmRegistry::escalate_stop(ManagedVm& vm) {
  if (!vm.process) return;
  vm.stop_escalations += 1;
  // The VMM ends the VM on SIGTERM (exit 0); SIGKILL for one that does not.
  (void)vm.process->signal(vm.stop_escalations == 1 ? SIGTERM : SIGKILL);
  vm.stop_deadline = Clock::now() + options_.stop_timeout;
}

Result<void> VmRegistry::remove(const std::string& name, bool force) {
  ManagedVm* vm = VMHIVE_TRY(managed(name));
  if (vm->process) {
    if (!force) return conflict(vm->record, "remove");
    (void)vm->process->signal(SIGKILL);
    pollfd wait_for_end{vm->process->pidfd(), POLLIN, 0};
    while (::poll(&wait_for_end, 1, 5000) < 0 && errno == EINTR) {
    }
    vm->stop_requested = true;
    ended(*vm);
  }
  VMHIVE_CHECK(store_.remove(name));
  vms_.erase(name);
  events_.record(name, "removed");
  return {};
}

Result<VmRecord> VmRegistry::find(const std::string& name) const {
  const ManagedVm* vm = VMHIVE_TRY(managed(name));
  return vm->record;
}

std::vector<VmRecord> VmRegistry::list() const {
  std::vector<VmRecord> records;
  records.reserve(vms_.size());
  for (const auto& [name, vm] : vms_) records.push_back(vm.record);
  return records;
}

void VmRegistry::add_poll_fds(std::vector<pollfd>& fds) const {
  for (const auto& [name, vm] : vms_)
    if (vm.process) fds.push_back({vm.process->pidfd(), POLLIN, 0});
  for (const auto& [name, pool] : pools_) pool->add_poll_fds(fds);
  for (const PendingControl& pending : pending_)
    if (pending.request.fd() >= 0) fds.push_back({pending.request.fd(), POLLIN, 0});
}

int VmRegistry::poll_timeout_ms() const {
  std::optional<Clock::time_point> first;
  for (const auto& [name, vm] : vms_)
    if (vm.process && vm.stop_deadline && (!first || *vm.stop_deadline < *first)) first = vm.stop_deadline;
  int timeout = settled_.empty() ? -1 : 0;
  if (first) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*first - Clock::now()).count();
    timeout = static_cast<int>(std::clamp<int64_t>(left + 1, 0, 60000));
  }
  for (const auto& [name, pool] : pools_) {
    const int due = pool->poll_timeout_ms();
    if (due >= 0 && (timeout < 0 || due < timeout)) timeout = due;
  }
  for (const PendingControl& pending : pending_) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(pending.request.next_wake() - Clock::now()).count();
    const int due = static_cast<int>(std::clamp<int64_t>(left, 0, 60000));
    if (timeout < 0 || due < timeout) timeout = due;
  }
  return timeout;
}

void VmRegistry::ended(ManagedVm& vm) {
  // Requests still waiting for this process will get no answer from it,
  // and must never reach a later process of the same VM.
  const pid_t pid = vm.process->pid();
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->vm != vm.record.name || it->pid != pid) {
      ++it;
      continue;
    }
    settled_.emplace_back(std::move(it->done), make_error(ErrorKind::kConflict, "the VM ended before it answered"));
    it = pending_.erase(it);
  }
  vm.switching = false;
  const ProcessEnd end = vm.process->reap();
  const std::string message = confinement::name_system_call_in(last_line_of(store_.vm_file(vm.record.name, "vmm.log")));
  const std::string reason = reason_for(end, message, vm.stop_requested);
  vm.process.reset();
  vm.record.phase = VmPhase::kExited;
  vm.record.pid = 0;
  vm.record.pid_start_ticks = 0;
  vm.record.exit = VmExit{end.status, end.signal, reason, message, wall_clock_ms()};
  vm.stop_deadline.reset();
  ::unlink(store_.vm_file(vm.record.name, "control.sock").c_str());
  save(vm);
  nlohmann::ordered_json details{{"reason", reason}};
  details["status"] = end.status ? nlohmann::ordered_json(*end.status) : nullptr;
  details["signal"] = end.signal ? nlohmann::ordered_json(*end.signal) : nullptr;
  details["message"] = message;
  events_.record(vm.record.name, reason == "seccomp" ? "seccomp_kill" : "exited", details);
  const std::string console = tail_of(store_.vm_file(vm.record.name, "console.log"), 16384);
  if (const size_t panic = console.rfind("Kernel panic"); panic != std::string::npos)
    events_.record(vm.record.name, "guest_panic", {{"line", console.substr(panic, console.find('\n', panic) - panic)}});
}

void VmRegistry::after_poll(std::span<const pollfd> polled) {
  // `polled` is what add_poll_fds added, in the same order; nothing has
  // changed the VMs since. A VM whose pidfd is readable has ended.
  std::set<int> ready_fds;
  for (const pollfd& fd : polled)
    if (fd.revents & (POLLIN | POLLHUP | POLLERR)) ready_fds.insert(fd.fd);
  for (auto& [name, vm] : vms_)
    if (vm.process && ready_fds.count(vm.process->pidfd()) != 0) ended(vm);
  for (auto& [name, pool] : pools_) pool->after_poll(ready_fds);
  settle_requests(ready_fds);
  const auto now = Clock::now();
  for (auto& [name, vm] : vms_)
    if (vm.process && vm.stop_deadline && *vm.stop_deadline <= now) escalate_stop(vm);
}

}  // namespace vmhive::daemon
