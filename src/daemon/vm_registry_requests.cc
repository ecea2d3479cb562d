// What the registry asks of a VM's own process through its control socket
// (pause, resume, snapshot, counters), without blocking the event loop:
// each request is a control::PendingRequest the loop polls, and its
// callback runs from after_poll().
#include <set>

#include "control/controller_requests.h"
#include "daemon/vm_registry.h"

namespace vmhive::daemon {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

void VmRegistry::ask_vm(const ManagedVm& vm, std::string request, std::chrono::milliseconds timeout,
                        std::function<void(Result<nlohmann::json>)> done, bool wait_for_socket) {
  // A VM that has just been started binds its control socket once its
  // machine is built: until then the request waits for it (unless told
  // not to; ended() fails what is still waiting for a VM that has gone).
  pending_.push_back(PendingControl{
      vm.record.name, vm.process->pid(),
      control::PendingRequest(store_.vm_file(vm.record.name, "control.sock"), std::move(request),
                              Clock::now() + timeout, wait_for_socket),
      std::move(done)});  // Sent now (the VM starts on its answer while the caller goes on); the
  // answer is collected by after_poll().
  if (auto failed = pending_.back().request.advance()) {
    settled_.emplace_back(std::move(pending_.back().done),
                          failed->ok() ? reply_members(**failed) : Result<nlohmann::json>(failed->error()));
    pending_.pop_back();
  }
}

// The VM `name` still runs as the process `pid` that was asked.
VmRegistry::ManagedVm* VmRegistry::still_running(const std::string& name, pid_t pid) {
  const auto found = vms_.find(name);
  if (found == vms_.end() || !found->second.process || found->second.process->pid() != pid) return nullptr;
  return &found->second;
}

Result<std::optional<VmRecord>> VmRegistry::pause(const std::string& name, RecordDone done) {
  ManagedVm* vm = VMHIVE_TRY(managed(name));
  if (vm->switching) return make_error(ErrorKind::kConflict, "a pause or resume of VM '" + name + "' is under way");
  if (vm->record.phase == VmPhase::kPaused) return std::optional<VmRecord>(vm->record);
  if (vm->record.phase != VmPhase::kRunning) return conflict(vm->record, "pause");
  return switch_state(*vm, "pause", VmPhase::kPaused, "paused", std::move(done));
}

Result<std::optional<VmRecord>> VmRegistry::resume(const std::string& name, RecordDone done) {
  ManagedVm* vm = VMHIVE_TRY(managed(name));
  if (vm->switching) return make_error(ErrorKind::kConflict, "a pause or resume of VM '" + name + "' is under way");
  if (vm->record.phase == VmPhase::kRunning) return std::optional<VmRecord>(vm->record);
  if (vm->record.phase != VmPhase::kPaused) return conflict(vm->record, "resume");
  return switch_state(*vm, "resume", VmPhase::kRunning, "resumed", std::move(done));
}

std::optional<VmRecord> VmRegistry::switch_state(ManagedVm& vm, const char* op, VmPhase phase, const char* event,
                                                 RecordDone done) {
  const std::string name = vm.record.name;
  const pid_t pid = vm.process->pid();
  vm.switching = true;
  ask_vm(vm, nlohmann::json{{"op", op}}.dump(), kControlTimeout,
         [this, name, pid, phase, event, done = std::move(done)](Result<nlohmann::json> reply) {
           ManagedVm* asked = still_running(name, pid);
           if (asked != nullptr) asked->switching = false;
           if (!reply.ok()) return done(reply.error());
           if (asked == nullptr) return done(make_error(ErrorKind::kConflict, "VM '" + name + "' ended meanwhile"));
           if (asked->record.phase == VmPhase::kRunning || asked->record.phase == VmPhase::kPaused) {
             asked->record.phase = phase;
             save(*asked);
             events_.record(name, event);
           }
           done(asked->record);
         });
  return std::nullopt;
}

Result<std::optional<nlohmann::json>> VmRegistry::vm_stats(const std::string& name, JsonDone done) {
  ManagedVm* vm = VMHIVE_TRY(managed(name));
  if (vm->record.phase != VmPhase::kRunning && vm->record.phase != VmPhase::kPaused)
    return conflict(vm->record, "report the counters of");
  if (auto counted = read_counters_file(store_.vm_file(name, "counters"), vm->process->pid()))
    return std::optional<nlohmann::json>(nlohmann::json::parse(control::stats_to_json(*counted).dump()));
  ask_vm(*vm, R"({"op":"stats"})", kStatsTimeout, [done = std::move(done)](Result<nlohmann::json> reply) {
    if (!reply.ok()) return done(reply.error());
    reply->erase("ok");
    done(std::move(*reply));
  });
  return std::optional<nlohmann::json>();
}

Result<void> VmRegistry::snapshot(const std::string& name, const std::string& dir, bool resume, JsonDone done) {
  ManagedVm* vm = VMHIVE_TRY(managed(name));
  if (vm->record.phase != VmPhase::kRunning && vm->record.phase != VmPhase::kPaused)
    return conflict(vm->record, "snapshot");
  if (dir.empty() || dir.front() != '/') return make_error(ErrorKind::kInvalid, "dir: an absolute path is needed");
  // A jailed VM sees only its jail: a host path means nothing to it.
  if (options_.jail)
    return make_error(ErrorKind::kConflict, "snapshots of jailed VMs through the daemon are not supported yet");
  const nlohmann::json request{{"op", "snapshot"}, {"dir", dir}, {"resume", resume}};
  const pid_t pid = vm->process->pid();
  ask_vm(*vm, request.dump(), kSnapshotTimeout,
         [this, name, pid, dir, resume, done = std::move(done)](Result<nlohmann::json> reply) {
           if (!reply.ok()) return done(reply.error());
           nlohmann::json members = std::move(*reply);
           members.erase("ok");
           events_.record(name, "snapshot", {{"dir", dir}, {"resume", resume}});
           ManagedVm* asked = still_running(name, pid);
           if (!resume && asked != nullptr) {
             asked->stop_requested = true;
             asked->record.phase = VmPhase::kStopping;
             asked->stop_deadline = Clock::now() + options_.stop_timeout;
             save(*asked);
           }
           done(std::move(members));
         });
  return {};
}

void VmRegistry::settle_requests(const std::set<int>& ready_fds) {
  // Answers (or failures, or deadlines) of requests to VMs. The callbacks
  // run after the walk: they may change the VMs, never the pending list.
  std::vector<std::pair<std::function<void(Result<nlohmann::json>)>, Result<nlohmann::json>>> finished;
  for (auto& settled : settled_) finished.push_back(std::move(settled));
  settled_.clear();
  const auto now = Clock::now();
  for (auto it = pending_.begin(); it != pending_.end();) {
    const int fd = it->request.fd();
    std::optional<Result<std::string>> reply;
    if ((fd >= 0 && ready_fds.count(fd) != 0) || it->request.next_wake() <= now) reply = it->request.advance();
    if (!reply) {
      ++it;
      continue;
    }
    finished.emplace_back(std::move(it->done), reply->ok() ? reply_members(**reply) : Result<nlohmann::json>(reply->error()));
    it = pending_.erase(it);
  }
  for (auto& [done, result] : finished) {
    try {
      done(std::move(result));
    } catch (const std::exception& error) {  // a JSON surprise from a VM must not end the daemon
      events_.record("", "error", {{"message", std::string("answering a VM's reply: ") + error.what()}});
    }
  }
}

}  // namespace vmhive::daemon
