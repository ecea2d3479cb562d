#include "vmm/vm_runner.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>
#include <vector>

#include "common/errno_error.h"
#include "common/signal_fd.h"
#include "confinement/process_hygiene.h"
#include "confinement/seccomp_filters.h"
#include "control/control_server.h"
#include "control/controller_requests.h"
#include "vmm/console.h"
#include "vmm/machine_controller.h"

namespace vmhive {
namespace {

constexpr size_t kMaxPendingInput = 4096;
constexpr int kInputRetryMilliseconds = 10;  // while the UART's FIFO is full

// The VMM's own access to guest RAM (a device reading a ring) faults when a
// snapshot's memory file was truncated under the VM: one line, status 1.
void report_lost_memory(int) {
  static constexpr char kReport[] =
      "vmhive: guest RAM became unreadable (SIGBUS): the snapshot's memory file was truncated under this VM\n";
  (void)!::write(STDERR_FILENO, kReport, sizeof kReport - 1);
  ::_exit(1);
}

class Runner {
 public:
  Runner(Machine& machine, const RunnerOptions& options)
      : machine_(machine), options_(options), own_controller_(machine),
        controller_(options.controller != nullptr ? *options.controller : own_controller_) {}

  Result<void> serve();

 private:
  void read_console_input(bool interactive);

  Machine& machine_;
  const RunnerOptions& options_;
  MachineController own_controller_;
  MachineController& controller_;
  std::optional<control::ControlServer> control_;
  ConsoleEscape escape_;
  bool stdin_open_ = true;
  std::vector<uint8_t> pending_;  // console input the UART has not taken yet
};

Result<void> Runner::serve() {
  // Blocked before any thread starts, so that every thread inherits the mask
  // and the signals arrive here, through the fd.
  const SignalFd signals = VMHIVE_TRY(SignalFd::block({SIGINT, SIGTERM, SIGHUP, SIGQUIT}));
  if (!options_.control_socket.empty()) {
    auto control = control::ControlServer::listen(options_.control_socket);
    if (!control.ok()) return with_context("--control", control.error());
    control_.emplace(std::move(*control));
  }
  struct sigaction lost_memory {};
  lost_memory.sa_handler = report_lost_memory;
  sigemptyset(&lost_memory.sa_mask);
  if (::sigaction(SIGBUS, &lost_memory, nullptr) != 0) return errno_error("sigaction(SIGBUS) failed");
  StopController& stop = machine_.stop_controller();
  // The C library reads the time-zone file at its first time conversion (the
  // RTC's gmtime_r on a vCPU thread): read it now, while the host's files are
  // in reach and may be opened.
  ::tzset();
  // Everything the VM needs is open now (KVM, memory, disks, taps, console,
  // the control socket): from here on the process needs no privilege.
  const auto confining = std::chrono::steady_clock::now();
  if (options_.jail) VMHIVE_CHECK(confinement::enter_jail(*options_.jail));
  VMHIVE_CHECK(confinement::set_no_new_privs());
  VMHIVE_CHECK(confinement::drop_capabilities());
  if (options_.seccomp) VMHIVE_CHECK(confinement::install_violation_report());
  const bool paused = controller_.status().state == control::VmState::kPaused;
  VMHIVE_CHECK(machine_.start(options_.seccomp, options_.vcpu_pins, paused));
  if (options_.on_running) options_.on_running();

  const bool interactive = machine_.console_is_stdio() && ::isatty(STDIN_FILENO);
  const auto raw_terminal = interactive ? RawTerminal::enter(STDIN_FILENO) : std::nullopt;
  if (options_.seccomp) {
    if (auto confined = confinement::confine_thread(confinement::ThreadRole::kMain); !confined.ok())
      return confined.error();
  }
  if (options_.report_timing) {
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - confining).count();
    std::fprintf(stderr, "vmhive: timing: confinement and thread start %.3f ms (seccomp %s, jail %s)\n", ms,
                 options_.seccomp ? "on" : "off", options_.jail ? "on" : "off");
  }
  if (options_.test_forbidden_call) (void)!::socket(AF_INET, SOCK_STREAM, 0);
  const control::ControlServer::Handler handle = [this](std::string_view request) {
    return control::serve_request(request, controller_);
  };
  std::vector<pollfd> fds;
  while (!stop.stopping()) {
    fds = {{signals.fd(), POLLIN, 0}, {stop.wake_fd(), POLLIN, 0}, {-1, POLLIN, 0}};
    if (stdin_open_ && pending_.size() < kMaxPendingInput) fds[2].fd = STDIN_FILENO;
    if (control_) control_->add_poll_fds(fds);
    if (options_.service) options_.service->add_poll_fds(fds);
    int timeout = pending_.empty() ? -1 : kInputRetryMilliseconds;
    const auto deadline = [&timeout](int ms) {
      if (ms >= 0) timeout = timeout < 0 ? ms : std::min(timeout, ms);
    };
    if (control_) deadline(control_->poll_timeout_ms());
    if (options_.service) deadline(options_.service->poll_timeout_ms());
    const int ready = ::poll(fds.data(), fds.size(), timeout);
    if (ready < 0 && errno != EINTR) return errno_error("poll failed");
    if (fds[0].revents & POLLIN) {
      if (const int signal = signals.take(); signal != 0) stop.request_stop(VmOutcome{VmOutcomeKind::kSignal, signal, {}});
    }
    if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) read_console_input(interactive);
    if (control_) control_->serve(handle);
    if (options_.service) options_.service->serve();
    if (!pending_.empty()) {
      const size_t accepted = machine_.send_console_input(pending_);
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(accepted));
    }
  }
  return {};
}

void Runner::read_console_input(bool interactive) {
  uint8_t buffer[1024];
  const ssize_t count = ::read(STDIN_FILENO, buffer, sizeof buffer);
  if (count < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (count <= 0) {
    stdin_open_ = false;  // end of input: the guest just stops getting any
    return;
  }
  const std::span<const uint8_t> bytes(buffer, static_cast<size_t>(count));
  if (!interactive) {
    pending_.insert(pending_.end(), bytes.begin(), bytes.end());
    return;
  }
  const auto filtered = escape_.filter(bytes);
  pending_.insert(pending_.end(), filtered.begin(), filtered.end());
  if (escape_.quit_requested()) machine_.stop_controller().request_stop(VmOutcome{VmOutcomeKind::kSignal, SIGINT, {}});
}

}  // namespace

VmOutcome run_machine(Machine& machine, const RunnerOptions& options) {
  Runner runner(machine, options);
  auto served = runner.serve();
  if (!served.ok()) machine.stop_controller().request_stop(VmOutcome{VmOutcomeKind::kVmmError, 0, served.error().message});
  return machine.finish();
}

}  // namespace vmhive
