#include "clones/clone_server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <deque>
#include <unordered_map>

#include "clones/child_process.h"
#include "clones/clone_server_protocol.h"
#include "clones/hold_protocol.h"
#include "common/errno_error.h"
#include "common/fd_io.h"
#include "common/signal_fd.h"
#include "common/unique_fd.h"
#include "control/control_server.h"

namespace vmhive::clones {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kStartTimeout = std::chrono::seconds(10);
constexpr auto kWordTimeout = std::chrono::seconds(1);  // a word under way arrives in this time
constexpr int kHoldFd = 3;                               // the clone's `--hold-fd`

// A clone restored (or still restoring) and held before its vCPUs run.
struct HeldClone {
  unsigned index;
  ChildProcess process;
  UniqueFd hold;   // our end of its hold socket
  UniqueFd input;  // its console input
  bool ready = false;
  bool failed = false;  // to be dropped: killed and reaped as it goes
};

class CloneServer {
 public:
  CloneServer(const CloneServerOptions& options, std::string binary, control::ControlServer socket, SignalFd signals)
      : options_(options), binary_(std::move(binary)), socket_(std::move(socket)), signals_(std::move(signals)) {}

  Result<int> serve();

 private:
  Result<void> spawn_one();
  // Takes "ready" from clones still restoring; drops those that failed.
  void collect_ready(int timeout_ms);
  std::string handle_request(std::string_view line);
  std::string start_clone(const std::string& input, Clock::time_point requested);
  void reap();
  void shut_down();

  bool refill_allowed() const { return Clock::now() - last_failure_ >= std::chrono::seconds(1); }
  void note_failure() { last_failure_ = Clock::now(); }

  CloneServerOptions options_;
  std::string binary_;
  control::ControlServer socket_;
  SignalFd signals_;
  std::deque<HeldClone> held_;                      // oldest first
  std::unordered_map<pid_t, ChildProcess> started_;  // let go and running, by pid
  unsigned next_index_ = 0;
  Clock::time_point last_failure_{};  // refills wait a second after a restore failed
};

Result<void> CloneServer::spawn_one() {
  int hold_pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, hold_pair) != 0)
    return errno_error("cannot make a hold socket pair");
  UniqueFd ours(hold_pair[0]), theirs(hold_pair[1]);
  int input_pipe[2];
  if (::pipe2(input_pipe, O_CLOEXEC) != 0) return errno_error("cannot make a console input pipe");
  UniqueFd input_read(input_pipe[0]), input_write(input_pipe[1]);

  const unsigned index = next_index_++;
  SpawnOptions spawn{.argv = restore_arguments(options_.clones, binary_, index),
                     .stdin_fd = input_read.get(),
                     .fds = {{theirs.get(), kHoldFd}},
                     .signal_mask = signals_.previous_mask()};
  spawn.argv.insert(spawn.argv.end(), {"--hold-fd", std::to_string(kHoldFd)});
  auto process = ChildProcess::spawn(spawn);
  if (!process.ok()) return with_context("clone " + std::to_string(index), process.error());
  held_.push_back(HeldClone{index, std::move(*process), std::move(ours), std::move(input_write)});
  return {};
}

void CloneServer::collect_ready(int timeout_ms) {
  std::vector<pollfd> fds;
  for (const HeldClone& clone : held_) {
    if (!clone.ready) fds.push_back({clone.hold.get(), POLLIN, 0});
  }
  if (fds.empty() || ::poll(fds.data(), fds.size(), timeout_ms) <= 0) return;
  size_t next = 0;
  for (HeldClone& clone : held_) {
    if (clone.ready) continue;
    if (fds[next++].revents == 0) continue;
    // A clone whose restore failed closes its end; its own message, on our
    // stderr, says why.
    if (wait_for_ready(clone.hold.get(), Clock::now() + kWordTimeout).ok()) {
      clone.ready = true;
    } else {
      clone.failed = true;
      note_failure();
    }
  }
  std::erase_if(held_, [](const HeldClone& clone) { return clone.failed; });
}

std::string CloneServer::start_clone(const std::string& input, Clock::time_point requested) {
  const auto deadline = requested + kStartTimeout;
  while (Clock::now() < deadline) {
    const auto found = std::find_if(held_.begin(), held_.end(), [](const HeldClone& clone) { return clone.ready; });
    if (found == held_.end()) {
      if (held_.empty() && !refill_allowed()) return error_reply("clones fail to restore (see the server's stderr)");
      if (held_.size() < options_.pool) {
        if (auto spawned = spawn_one(); !spawned.ok()) return error_reply(spawned.error().message);
      }
      collect_ready(50);
      continue;
    }
    HeldClone clone = std::move(*found);
    held_.erase(found);
    const bool went = send_go(clone.hold.get()).ok() &&
                      wait_for_running(clone.hold.get(), Clock::now() + kStartTimeout).ok();
    const double start_ms = std::chrono::duration<double, std::milli>(Clock::now() - requested).count();
    if (!went) continue;  // it is killed and reaped as `clone` goes; try the next one
    if (!input.empty()) (void)write_fully(clone.input.get(), input);
    const pid_t pid = clone.process.pid();
    started_.emplace(pid, std::move(clone.process));
    return started_reply(clone.index, pid, start_ms);
  }
  return error_reply("no clone became ready within 10 s");
}

std::string CloneServer::handle_request(std::string_view line) {
  const auto requested = Clock::now();
  auto request = parse_clone_server_request(line);
  if (!request.ok()) return error_reply(request.error().message);
  if (request->clone) return start_clone(request->input, requested);
  const auto ready = static_cast<size_t>(
      std::count_if(held_.begin(), held_.end(), [](const HeldClone& clone) { return clone.ready; }));
  return status_reply(ready, held_.size() - ready, started_.size());
}

// Children that ended, each reaped through the ChildProcess that owns it.
void CloneServer::reap() {
  collect_ended_children([this](pid_t pid) {
    if (const auto started = started_.find(pid); started != started_.end()) {
      (void)started->second.wait();
      started_.erase(started);
      return true;
    }
    const auto held =
        std::find_if(held_.begin(), held_.end(), [pid](const HeldClone& clone) { return clone.process.pid() == pid; });
    if (held == held_.end()) return false;
    (void)held->process.wait();
    held_.erase(held);
    note_failure();  // a held clone died before its request
    return true;
  });
}

void CloneServer::shut_down() {
  for (HeldClone& clone : held_) clone.hold.reset();  // let go: they exit without running
  for (auto& [pid, process] : started_) (void)process.kill(SIGTERM);
  for (HeldClone& clone : held_) (void)clone.process.wait();
  for (auto& [pid, process] : started_) (void)process.wait();
  held_.clear();
  started_.clear();
}

Result<int> CloneServer::serve() {
  std::fprintf(stderr, "vmhive: clone server on %s, keeping %u clones ready\n", options_.socket.c_str(), options_.pool);
  for (;;) {
    while (held_.size() < options_.pool && refill_allowed()) {
      if (auto spawned = spawn_one(); !spawned.ok()) {
        std::fprintf(stderr, "vmhive: %s\n", spawned.error().message.c_str());
        note_failure();
        break;
      }
    }
    std::vector<pollfd> fds{{signals_.fd(), POLLIN, 0}};
    for (const HeldClone& clone : held_) {
      if (!clone.ready) fds.push_back({clone.hold.get(), POLLIN, 0});
    }
    const size_t restoring = fds.size() - 1;
    socket_.add_poll_fds(fds);
    // A pool whose restores keep failing is refilled once a second, not in a loop.
    int timeout = held_.size() < options_.pool ? 1000 : -1;
    if (const int connections = socket_.poll_timeout_ms(); connections >= 0)
      timeout = timeout < 0 ? connections : std::min(timeout, connections);
    if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) return errno_error("poll failed");
    if (fds[0].revents & POLLIN) {
      bool stop = false;
      while (const int signal = signals_.take()) stop |= signal != SIGCHLD;
      reap();
      if (stop) break;
    }
    if (restoring > 0) collect_ready(0);
    socket_.serve([this](std::string_view line) { return handle_request(line); });
  }
  shut_down();
  return 0;
}

}  // namespace

Result<int> run_clone_server(const CloneServerOptions& options, const std::string& vmhive_binary) {
  VMHIVE_CHECK(prepare_clones(options.clones));
  auto socket = control::ControlServer::listen(options.socket);
  if (!socket.ok()) return with_context("--socket", socket.error());
  // A clone that died must not take the server down with SIGPIPE when its
  // console input is written (its own SIGPIPE is reset to the default).
  ::signal(SIGPIPE, SIG_IGN);
  // Blocked before the first clone starts, so that no SIGCHLD is missed.
  SignalFd signals = VMHIVE_TRY(SignalFd::block({SIGINT, SIGTERM, SIGHUP, SIGCHLD}));
  CloneServer server(options, vmhive_binary, std::move(*socket), std::move(signals));
  return server.serve();
}

}  // namespace vmhive::clones
