#include "daemon/clone_pool.h"

#include <signal.h>
#include <sys/socket.h>

#include <algorithm>

#include "clones/hold_protocol.h"
#include "common/errno_error.h"
#include "config/vm_spec.h"

namespace vmhive::daemon {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kRetryAfterFailure = std::chrono::seconds(1);
constexpr auto kWordTimeout = std::chrono::seconds(1);  // a readable hold socket has its word already

}  // namespace

nlohmann::ordered_json pool_spec_to_json(const PoolSpec& spec) {
  return {{"name", spec.name}, {"snapshot", spec.snapshot_dir}, {"disks", spec.disks}, {"size", spec.size}};
}

Result<PoolSpec> pool_spec_from_json(const nlohmann::json& document) {
  if (!document.is_object()) return make_error(ErrorKind::kInvalid, "a pool is a JSON object");
  PoolSpec spec;
  bool has_snapshot = false;
  for (const auto& [key, value] : document.items()) {
    if (key == "name") {
      if (!value.is_string()) return make_error(ErrorKind::kInvalid, "name: a string is needed");
      spec.name = value.get<std::string>();
    } else if (key == "snapshot") {
      if (!value.is_string() || value.get<std::string>().empty() || value.get<std::string>().front() != '/')
        return make_error(ErrorKind::kInvalid, "snapshot: the snapshot directory's absolute path is needed");
      spec.snapshot_dir = value.get<std::string>();
      has_snapshot = true;
    } else if (key == "disks") {
      if (!value.is_array()) return make_error(ErrorKind::kInvalid, "disks: an array of absolute paths");
      for (const auto& disk : value) {
        if (!disk.is_string() || disk.get<std::string>().empty() || disk.get<std::string>().front() != '/')
          return make_error(ErrorKind::kInvalid, "disks: an array of absolute paths");
        spec.disks.push_back(disk.get<std::string>());
      }
    } else if (key == "size") {
      if (!value.is_number_unsigned() || value.get<uint64_t>() < 1 || value.get<uint64_t>() > kMaxPoolSize)
        return make_error(ErrorKind::kInvalid, "size: a number from 1 to " + std::to_string(kMaxPoolSize));
      spec.size = static_cast<unsigned>(value.get<uint64_t>());
    } else {
      return make_error(ErrorKind::kInvalid, "unknown member \"" + key + "\"");
    }
  }
  if (auto named = config::check_name(spec.name); !named.ok())
    return make_error(ErrorKind::kInvalid, "name: " + named.error().message);
  if (spec.name.size() > kMaxPoolNameLength)
    return make_error(ErrorKind::kInvalid, "name: at most " + std::to_string(kMaxPoolNameLength) +
                                               " characters (its held VMs are named <name>.<n>)");
  if (!has_snapshot) return make_error(ErrorKind::kInvalid, "snapshot: the snapshot directory's absolute path is needed");
  return spec;
}

ClonePool::~ClonePool() {
  for (HeldVm& held : held_) let_go(held);
}

size_t ClonePool::ready_count() const {
  return static_cast<size_t>(std::count_if(held_.begin(), held_.end(), [](const HeldVm& held) { return held.ready; }));
}

nlohmann::ordered_json ClonePool::describe() const {
  nlohmann::ordered_json document = pool_spec_to_json(spec_);
  document["ready"] = ready_count();
  document["restoring"] = restoring_count();
  document["taken"] = taken_;
  document["failures"] = failures_;
  document["last_failure"] = last_failure_;
  return document;
}

Result<void> ClonePool::spawn_one() {
  const std::string dir_name = spec_.name + "." + std::to_string(next_serial_++);
  VMHIVE_CHECK(store_.make_held_dir(dir_name));
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    const Error error = errno_error("cannot make a hold socket pair");
    (void)store_.remove_held_dir(dir_name);
    return error;
  }
  UniqueFd ours(pair[0]), theirs(pair[1]);
  LaunchSpec launch{.vmhive_binary = launch_.vmhive_binary,
                    .config_path = {},
                    .restore = RestoreSource{spec_.snapshot_dir, {}, spec_.disks},
                    .control_socket = store_.held_file(dir_name, "control.sock"),
                    .console_log = store_.held_file(dir_name, "console.log"),
                    .console_limit = launch_.console_limit,
                    .stderr_log = store_.held_file(dir_name, "vmm.log"),
                    .console_fifo = store_.held_file(dir_name, "console.in"),
                    .extra_args = launch_.vm_args,
                    .counters_file = store_.held_file(dir_name, "counters"),
                    .hold_fd = theirs.get()};
  auto process = VmProcess::launch(launch);
  if (!process.ok()) {
    (void)store_.remove_held_dir(dir_name);
    return process.error();
  }
  held_.push_back(HeldVm{dir_name, std::move(*process), std::move(ours), false});
  return {};
}

void ClonePool::let_go(HeldVm& held) {
  // It has not run a guest instruction: nothing is lost by killing it.
  (void)held.process.signal(SIGKILL);
  (void)held.process.reap();
  (void)store_.remove_held_dir(held.dir_name);
}

void ClonePool::failed(const std::string& message) {
  ++failures_;
  last_failure_ = message;
  last_failure_at_ = Clock::now();
}

void ClonePool::refill() {
  if (failures_ != 0 && Clock::now() - last_failure_at_ < kRetryAfterFailure) return;
  while (held_.size() < spec_.size) {
    if (auto spawned = spawn_one(); !spawned.ok()) {
      failed(spawned.error().message);
      return;
    }
  }
}

std::optional<HeldVm> ClonePool::take_ready() {
  const auto found = std::find_if(held_.begin(), held_.end(), [](const HeldVm& held) { return held.ready; });
  if (found == held_.end()) return std::nullopt;
  HeldVm taken = std::move(*found);
  held_.erase(found);
  ++taken_;
  return taken;
}

void ClonePool::add_poll_fds(std::vector<pollfd>& fds) const {
  for (const HeldVm& held : held_) {
    fds.push_back({held.process.pidfd(), POLLIN, 0});
    if (!held.ready) fds.push_back({held.hold.get(), POLLIN, 0});
  }
}

int ClonePool::poll_timeout_ms() const {
  if (held_.size() >= spec_.size) return -1;
  const auto due = last_failure_at_ + kRetryAfterFailure - Clock::now();
  return static_cast<int>(std::max<int64_t>(0, std::chrono::ceil<std::chrono::milliseconds>(due).count()));
}

void ClonePool::after_poll(const std::set<int>& ready_fds) {
  for (auto it = held_.begin(); it != held_.end();) {
    HeldVm& held = *it;
    bool gone = ready_fds.count(held.process.pidfd()) != 0;
    if (!gone && !held.ready && ready_fds.count(held.hold.get()) != 0) {
      // "ready", or the end of the socket: its restore failed and it exits.
      if (clones::wait_for_ready(held.hold.get(), Clock::now() + kWordTimeout).ok()) {
        held.ready = true;
      } else {
        gone = true;
      }
    }
    if (!gone) {
      ++it;
      continue;
    }
    // Its own last line says why (a snapshot that is not one, say).
    const std::string message = last_line_of(store_.held_file(held.dir_name, "vmm.log"));
    failed(message.empty() ? "a held VM ended before it was taken" : message);
    let_go(held);
    it = held_.erase(it);
  }
  refill();
}

}  // namespace vmhive::daemon
