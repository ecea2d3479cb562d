#include "cli/clone_server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <optional>

#include "common/unique_fd.h"
#include "clones/clone_server_protocol.h"
#include "control/control_request.h"
#include "control/control_socket.h"

namespace vmhive::cli {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kStartTimeout = std::chrono::seconds(10);

// A clone restored and held before its vCPUs run.
struct HeldClone {
  unsigned index = 0;
  pid_t pid = 0;
  UniqueFd hold;   // our end of its --hold-fd socket: "ready", "go", "running"
  UniqueFd input;  // its console input
  bool ready = false;
};

// Reads until `word` (one line) arrives on `fd` or `deadline` passes.
bool read_word(int fd, std::string_view word, Clock::time_point deadline) {
  std::string got;
  while (got.size() < word.size()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd ready{fd, POLLIN, 0};
    if (::poll(&ready, 1, static_cast<int>(left)) <= 0) continue;
    char buffer[16];
    const ssize_t count = ::read(fd, buffer, std::min(sizeof buffer, word.size() - got.size()));
    if (count <= 0) return false;
    got.append(buffer, static_cast<size_t>(count));
  }
  return got == word;
}

class CloneServer {
 public:
  CloneServer(const CloneServerOptions& options, std::string binary, control::ControlSocket socket)
      : options_(options), binary_(std::move(binary)), socket_(std::move(socket)) {}

  Result<int> serve();

 private:
  Result<void> spawn_one();
  // Reads "ready" from clones still restoring; drops those that failed.
  void collect_ready(int timeout_ms);
  void handle_request();
  std::string start_clone(const std::string& input, Clock::time_point requested);
  void reap();

  CloneServerOptions options_;
  std::string binary_;
  control::ControlSocket socket_;
  std::deque<std::unique_ptr<HeldClone>> held_;
  std::map<pid_t, unsigned> started_;  // running clones, by pid
  unsigned next_index_ = 0;
  Clock::time_point last_failure_{};  // refills wait a second after a restore failed
  bool refill_allowed() const { return Clock::now() - last_failure_ >= std::chrono::seconds(1); }
  void note_failure() { last_failure_ = Clock::now(); }
};

Result<void> CloneServer::spawn_one() {
  int hold_pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, hold_pair) != 0)
    return make_error(std::string("socketpair: ") + std::strerror(errno));
  UniqueFd ours(hold_pair[0]), theirs(hold_pair[1]);
  int input_pipe[2];
  if (::pipe2(input_pipe, O_CLOEXEC) != 0) return make_error(std::string("pipe: ") + std::strerror(errno));
  UniqueFd input_read(input_pipe[0]), input_write(input_pipe[1]);

  auto clone = std::make_unique<HeldClone>();
  clone->index = next_index_++;
  std::vector<std::string> args = clone_restore_arguments(options_.clones, binary_, clone->index);
  args.insert(args.end(), {"--hold-fd", "3"});
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, input_read.get(), STDIN_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, theirs.get(), 3);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGPIPE}) sigaddset(&defaults, signal);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  const int error = ::posix_spawn(&clone->pid, binary_.c_str(), &actions, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (error != 0) return make_error("starting clone " + std::to_string(clone->index) + ": " + std::strerror(error));
  clone->hold = std::move(ours);
  clone->input = std::move(input_write);
  held_.push_back(std::move(clone));
  return {};
}

void CloneServer::collect_ready(int timeout_ms) {
  std::vector<pollfd> fds;
  std::vector<HeldClone*> waiting;
  for (auto& clone : held_) {
    if (clone->ready) continue;
    fds.push_back({clone->hold.get(), POLLIN, 0});
    waiting.push_back(clone.get());
  }
  if (fds.empty() || ::poll(fds.data(), fds.size(), timeout_ms) <= 0) return;
  for (size_t i = 0; i < fds.size(); ++i) {
    if (fds[i].revents == 0) continue;
    HeldClone* clone = waiting[i];
    if (read_word(clone->hold.get(), "ready\n", Clock::now() + std::chrono::seconds(1))) {
      clone->ready = true;
      continue;
    }
    // It failed to restore (its message went to our stderr): drop it.
    note_failure();
    ::kill(clone->pid, SIGKILL);
    ::waitpid(clone->pid, nullptr, 0);
    std::erase_if(held_, [clone](const auto& held) { return held.get() == clone; });
  }
}

std::string CloneServer::start_clone(const std::string& input, Clock::time_point requested) {
  const auto deadline = requested + kStartTimeout;
  while (Clock::now() < deadline) {
    auto found = std::find_if(held_.begin(), held_.end(), [](const auto& clone) { return clone->ready; });
    if (found == held_.end()) {
      if (held_.empty() && !refill_allowed())
        return clones::error_reply("clones fail to restore (see the server's stderr)");
      if (held_.size() < options_.pool) {
        if (auto spawned = spawn_one(); !spawned.ok()) return clones::error_reply(spawned.error().message);
      }
      collect_ready(50);
      continue;
    }
    std::unique_ptr<HeldClone> clone = std::move(*found);
    held_.erase(found);
    static constexpr char kGo[] = "go\n";
    const bool went = ::write(clone->hold.get(), kGo, sizeof kGo - 1) == static_cast<ssize_t>(sizeof kGo - 1) &&
                      read_word(clone->hold.get(), "running\n", Clock::now() + kStartTimeout);
    const double start_ms = std::chrono::duration<double, std::milli>(Clock::now() - requested).count();
    if (!went) {
      ::kill(clone->pid, SIGKILL);
      ::waitpid(clone->pid, nullptr, 0);
      continue;  // try the next one
    }
    if (!input.empty()) (void)!::write(clone->input.get(), input.data(), input.size());
    started_[clone->pid] = clone->index;
    return clones::started_reply(clone->index, clone->pid, start_ms);
  }
  return clones::error_reply("no clone became ready within 10 s");
}

void CloneServer::handle_request() {
  auto connection = socket_.accept_request(std::chrono::seconds(2));
  if (!connection.ok()) return;
  const auto requested = Clock::now();
  auto request = clones::parse_clone_server_request(connection->line);
  std::string reply;
  if (!request.ok()) {
    reply = clones::error_reply(request.error().message);
  } else if (request->clone) {
    reply = start_clone(request->input, requested);
  } else {
    unsigned ready = 0;
    for (const auto& clone : held_) ready += clone->ready;
    reply = clones::status_reply(ready, held_.size() - ready, started_.size());
  }
  control::ControlSocket::reply(*connection, reply);
}

// Only the pids this server knows are reaped, each by its own pid, so that
// none is waited for or signalled after it was collected (and maybe reused).
void CloneServer::reap() {
  std::erase_if(started_, [](const auto& entry) { return ::waitpid(entry.first, nullptr, WNOHANG) > 0; });
  const size_t before = held_.size();
  std::erase_if(held_, [](const auto& clone) { return ::waitpid(clone->pid, nullptr, WNOHANG) > 0; });
  if (held_.size() != before) note_failure();  // a held clone died before its request
}

Result<int> CloneServer::serve() {
  sigset_t signals;
  sigemptyset(&signals);
  for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&signals, signal);
  ::sigprocmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  UniqueFd signal_fd(::signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signal_fd.valid()) return make_error(std::string("signalfd: ") + std::strerror(errno));
  std::fprintf(stderr, "vmhive: clone server on %s, keeping %u clones ready\n", options_.socket.c_str(), options_.pool);

  for (;;) {
    while (held_.size() < options_.pool && refill_allowed()) {
      if (auto spawned = spawn_one(); !spawned.ok()) {
        std::fprintf(stderr, "vmhive: %s\n", spawned.error().message.c_str());
        break;
      }
    }
    std::vector<pollfd> fds{{signal_fd.get(), POLLIN, 0}, {socket_.fd(), POLLIN, 0}};
    for (const auto& clone : held_) {
      if (!clone->ready) fds.push_back({clone->hold.get(), POLLIN, 0});
    }
    // A pool whose restores keep failing is refilled once a second, not in a loop.
    if (::poll(fds.data(), fds.size(), held_.size() < options_.pool ? 1000 : -1) < 0 && errno != EINTR)
      return make_error(std::string("poll: ") + std::strerror(errno));
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info{};
      bool stop = false;
      while (::read(signal_fd.get(), &info, sizeof info) == sizeof info) stop |= info.ssi_signo != SIGCHLD;
      reap();
      if (stop) break;
    }
    if (fds.size() > 2) collect_ready(0);
    if (fds[1].revents & POLLIN) handle_request();
  }
  held_.clear();  // their hold sockets close: unused clones exit without running
  for (const auto& [pid, index] : started_) ::kill(pid, SIGTERM);
  while (::waitpid(-1, nullptr, 0) > 0) {
  }
  return 0;
}

}  // namespace

Result<int> clone_server_command(const CloneServerOptions& options, const std::string& vmhive_binary) {
  VMHIVE_CHECK(check_snapshot(options.clones.snapshot_dir));
  VMHIVE_CHECK(ensure_directory(options.clones.console_dir, "--console-dir"));
  VMHIVE_CHECK(ensure_directory(options.clones.control_dir, "--control-dir"));
  VMHIVE_CHECK(ensure_directory(options.clones.overlay_dir, "--overlay-dir"));
  auto socket = control::ControlSocket::listen(options.socket);
  if (!socket.ok()) return with_context("--socket", socket.error());
  CloneServer server(options, vmhive_binary, std::move(*socket));
  return server.serve();
}

}  // namespace vmhive::cli
