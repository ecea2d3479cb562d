#include "farm/clone_fleet.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "clones/hold_protocol.h"
#include "common/errno_error.h"

namespace vmhive::farm {
namespace {

using namespace std::chrono_literals;

constexpr int kLinkFd = 3;  // a clone's --net fd=3
constexpr int kHoldFd = 4;  // and its --hold-fd 4
constexpr int kAlertFd = 5; // and its --alert-fd 5 (writes to its protected kernel text)

}  // namespace

Result<void> CloneFleet::spawn_held(unsigned profile) {
  int link_pair[2], hold_pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, link_pair) != 0)
    return errno_error("cannot make a clone's link");
  UniqueFd link(link_pair[0]), link_theirs(link_pair[1]);
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, hold_pair) != 0)
    return errno_error("cannot make a clone's hold socket");
  UniqueFd hold(hold_pair[0]), hold_theirs(hold_pair[1]);
  UniqueFd alerts, alerts_theirs;
  const bool protect = config_.profiles[profile].write_protect_text;
  if (protect) {
    int alert_pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, alert_pair) != 0)
      return errno_error("cannot make a clone's alert socket");
    alerts = UniqueFd(alert_pair[0]);
    alerts_theirs = UniqueFd(alert_pair[1]);
  }
  const CloneId id = next_id_++;
  clones::SpawnOptions spawn{
      .argv = {binary_, "restore", config_.profiles[profile].snapshot, "--net", "fd=" + std::to_string(kLinkFd),
               "--hold-fd", std::to_string(kHoldFd), "--exit-with-parent"},
      .fds = {{link_theirs.get(), kLinkFd}, {hold_theirs.get(), kHoldFd}},
      .signal_mask = signal_mask_};
  if (!config_.forensics_dir.empty()) spawn.argv.insert(spawn.argv.end(), {"--control", control_socket(id)});
  if (!config_.console_dir.empty())
    spawn.argv.insert(spawn.argv.end(), {"--console", console_file(id), "--console-limit", "1M"});
  if (protect) {
    spawn.argv.insert(spawn.argv.end(), {"--write-protect-text", "--alert-fd", std::to_string(kAlertFd)});
    spawn.fds.push_back({alerts_theirs.get(), kAlertFd});
  }
  auto process = clones::ChildProcess::spawn(spawn);
  if (!process.ok()) return with_context("clone " + std::to_string(id), process.error());
  auto clone = std::make_unique<Clone>(Clone{.id = id, .profile = profile, .process = std::move(*process),
                                             .link = std::move(link), .hold = std::move(hold),
                                             .alerts = std::move(alerts)});
  VMHIVE_CHECK(watcher_.watch(clone->hold.get(), CloneSocket::kHold, id));
  if (clone->alerts.valid()) VMHIVE_CHECK(watcher_.watch(clone->alerts.get(), CloneSocket::kAlerts, id));
  clones_.emplace(id, std::move(clone));
  return {};
}

void CloneFleet::refill() {
  if (Clock::now() - last_failure_ < 1s) return;  // a snapshot that fails to restore is retried once a second
  std::vector<unsigned> held(config_.profiles.size(), 0);
  for (const auto& [id, clone] : clones_)
    if (!clone->live) ++held[clone->profile];
  for (unsigned profile = 0; profile < config_.profiles.size(); ++profile) {
    for (unsigned n = held[profile]; n < config_.profiles[profile].ready; ++n) {
      if (auto spawned = spawn_held(profile); !spawned.ok()) {
        events_.emit({{"event", "clone_failed"}, {"profile", config_.profiles[profile].name},
                      {"error", spawned.error().message}});
        last_failure_ = Clock::now();
        return;
      }
    }
  }
}

void CloneFleet::on_hold(CloneId id) {
  const auto found = clones_.find(id);
  if (found == clones_.end()) return;
  Clone& clone = *found->second;
  watcher_.unwatch(clone.hold.get());
  // A restore that failed closes its end; its own line, on our stderr, says why.
  if (auto ready = clones::wait_for_ready(clone.hold.get(), Clock::now() + 1s); !ready.ok()) {
    ++counters_.clone_failures;
    last_failure_ = Clock::now();
    events_.emit({{"event", "clone_failed"}, {"profile", config_.profiles[clone.profile].name},
                  {"error", ready.error().message}});
    end(id);
    return;
  }
  clone.ready = true;
  if (clone.live) {
    // Bound while it was restoring: its first frames wait on its link. Its idle time counts
    // from now, not from that first packet: a slow restore must not make it idle before it ran.
    (void)table_.touch(clone.outside_address, Clock::now());
    let_go(clone);
    return;
  }
  if (announced_ready_) return;
  std::vector<unsigned> ready(config_.profiles.size(), 0);
  for (const auto& [other_id, other] : clones_)
    if (other->ready && !other->live) ++ready[other->profile];
  for (unsigned profile = 0; profile < config_.profiles.size(); ++profile)
    if (ready[profile] < config_.profiles[profile].ready) return;
  announced_ready_ = true;
  nlohmann::ordered_json announcement{
      {"event", "ready"},
      {"range", ipv4_text(config_.range.base) + "/" + std::to_string(config_.range.prefix_length)},
      {"outside", config_.outside_tap}};
  if (!config_.console_dir.empty()) announcement["consoles"] = config_.console_dir;  // this run's
  events_.emit(announcement);
}

Clone* CloneFleet::take_held(unsigned profile) {
  Clone* chosen = nullptr;
  for (auto& [id, clone] : clones_) {
    if (clone->live || clone->profile != profile) continue;
    const bool better = chosen == nullptr || (clone->ready && !chosen->ready) ||
                        (clone->ready == chosen->ready && clone->id < chosen->id);
    if (better) chosen = clone.get();
  }
  if (chosen != nullptr) return chosen;
  if (auto spawned = spawn_held(profile); !spawned.ok()) {
    events_.emit({{"event", "clone_failed"}, {"profile", config_.profiles[profile].name},
                  {"error", spawned.error().message}});
    return nullptr;
  }
  return clones_.at(next_id_ - 1).get();
}

void CloneFleet::let_go(Clone& clone) {
  (void)clones::send_go(clone.hold.get());
  clone.hold.reset();
}

void CloneFleet::mark_breached(Clone& clone) {
  clone.breached = true;
  ++counters_.breaches;
  if (const Binding* binding = table_.find(clone.outside_address); binding != nullptr && binding->clone == clone.id)
    table_.unbind(clone.outside_address);
}

bool CloneFleet::retire_breached(Clone& clone, nlohmann::ordered_json alert) {
  mark_breached(clone);
  if (config_.forensics_dir.empty()) {
    events_.alert(alert);
    end(clone.id);
    return true;
  }
  const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  clone.forensics_snapshot = config_.forensics_dir + "/" + ipv4_text(clone.outside_address) + "-clone" +
                             std::to_string(clone.id) + "-" +
                             std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count());
  const nlohmann::json request{{"op", "snapshot"}, {"dir", clone.forensics_snapshot}, {"resume", false}};
  alert["snapshot"] = clone.forensics_snapshot;
  events_.alert(alert);
  clone.forensics.emplace(control_socket(clone.id), request.dump(), Clock::now() + 30s, false);
  if (auto outcome = clone.forensics->advance()) return finish_forensics(clone, *outcome);  // refused at once
  (void)watcher_.watch(clone.forensics->fd(), CloneSocket::kForensics, clone.id);
  return false;
}

void CloneFleet::on_forensics(CloneId id) {
  const auto found = clones_.find(id);
  if (found == clones_.end() || !found->second->forensics) return;
  if (auto outcome = found->second->forensics->advance()) (void)finish_forensics(*found->second, *outcome);
}

void CloneFleet::advance_forensics() {
  std::vector<CloneId> waiting;
  for (const auto& [id, clone] : clones_)
    if (clone->forensics) waiting.push_back(id);
  for (CloneId id : waiting) on_forensics(id);
}

bool CloneFleet::finish_forensics(Clone& clone, const Result<std::string>& outcome) {
  if (clone.forensics->fd() >= 0) watcher_.unwatch(clone.forensics->fd());
  clone.forensics.reset();
  nlohmann::ordered_json event{{"event", "forensics"}, {"clone", clone.id}, {"snapshot", clone.forensics_snapshot}};
  const bool saved = outcome.ok() && outcome.value().find("\"ok\":true") != std::string::npos;
  event["ok"] = saved;  // saved: the clone stops by itself and is reaped when it has
  if (!saved) event["error"] = outcome.ok() ? outcome.value() : outcome.error().message;
  events_.emit(event);
  if (saved) return false;
  end(clone.id);  // not saved: it goes anyway
  return true;
}

void CloneFleet::end(CloneId id, const char* event) {
  const auto found = clones_.find(id);
  if (found == clones_.end()) return;
  Clone& clone = *found->second;
  if (clone.live) {
    if (const Binding* binding = table_.find(clone.outside_address); binding != nullptr && binding->clone == id)
      table_.unbind(clone.outside_address);
    if (event != nullptr) events_.emit({{"event", event}, {"address", ipv4_text(clone.outside_address)}, {"clone", id}});
  }
  if (clone.link.valid()) watcher_.unwatch(clone.link.get());
  if (clone.hold.valid()) watcher_.unwatch(clone.hold.get());
  if (clone.alerts.valid()) watcher_.unwatch(clone.alerts.get());
  if (clone.forensics && clone.forensics->fd() >= 0) watcher_.unwatch(clone.forensics->fd());
  (void)clone.process.kill(SIGKILL);
  dying_.push_back(std::move(clone.process));  // reaped when it has gone
  if (!config_.console_dir.empty() && !clone.breached) (void)::unlink(console_file(id).c_str());  // a breached one's is kept
  clones_.erase(found);
}

void CloneFleet::reap() {
  std::erase_if(dying_, [](clones::ChildProcess& process) {
    const auto status = process.try_wait();
    return !status.ok() || status->has_value();
  });
  struct Ended {
    CloneId id;
    clones::ExitStatus status;
  };
  std::vector<Ended> ended;
  std::vector<CloneId> breached;
  for (auto& [id, clone] : clones_) {
    if (clone->forensics) continue;  // its snapshot's answer comes first
    const auto status = clone->process.try_wait();
    if (status.ok() && !status->has_value()) continue;
    if (clone->breached) {
      breached.push_back(id);
    } else {
      ended.push_back({id, status.ok() ? **status : clones::ExitStatus{.code = -1}});
    }
  }
  for (const Ended& gone : ended) {
    ++counters_.clone_failures;
    Clone& clone = *clones_.at(gone.id);
    if (!clone.live) {
      const std::string profile = config_.profiles[clone.profile].name;  // `clone` goes with end()
      end(gone.id);
      events_.emit({{"event", "clone_exited"}, {"clone", gone.id}, {"profile", profile},
                    {"exit_code", gone.status.code}, {"signal", gone.status.signal}});
      continue;
    }
    // A serving clone never ends by itself: its guest powered off, reset (a panic with
    // panic=-1 reboots) or its VMM died. Nothing is left to snapshot.
    const char* reason = gone.status.signal != 0 ? "clone's VMM died"
                         : gone.status.code == 3 ? "guest reset (a panic or a reboot)"
                         : gone.status.code == 0 ? "guest powered off"
                                                 : "clone's VMM failed";
    mark_breached(clone);
    events_.alert({{"event", "breach"}, {"address", ipv4_text(clone.outside_address)}, {"clone", gone.id},
                   {"profile", config_.profiles[clone.profile].name}, {"reason", reason},
                   {"exit_code", gone.status.code}, {"signal", gone.status.signal}});
    end(gone.id);
  }
  for (CloneId id : breached) end(id);  // it stopped after its forensic snapshot
}

void CloneFleet::end_all() {
  std::vector<CloneId> all;
  for (const auto& [id, clone] : clones_) all.push_back(id);
  for (CloneId id : all) end(id);
  for (clones::ChildProcess& process : dying_) (void)process.wait();
  dying_.clear();
}

}  // namespace vmhive::farm
