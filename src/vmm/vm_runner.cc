#include "vmm/vm_runner.h"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <vector>

#include "common/errno_error.h"
#include "common/signal_fd.h"
#include "control/control_socket.h"
#include "control/controller_requests.h"
#include "vmm/console.h"
#include "vmm/machine_controller.h"

namespace vmhive {
namespace {

constexpr size_t kMaxPendingInput = 4096;
constexpr int kInputRetryMilliseconds = 10;  // while the UART's FIFO is full

class Runner {
 public:
  Runner(Machine& machine, const RunnerOptions& options) : machine_(machine), options_(options), controller_(machine) {}

  Result<void> serve();

 private:
  void read_console_input(bool interactive);
  void serve_control_request();

  Machine& machine_;
  const RunnerOptions& options_;
  MachineController controller_;
  std::optional<control::ControlSocket> control_;
  ConsoleEscape escape_;
  bool stdin_open_ = true;
  std::vector<uint8_t> pending_;  // console input the UART has not taken yet
};

Result<void> Runner::serve() {
  // Blocked before any thread starts, so that every thread inherits the mask
  // and the signals arrive here, through the fd.
  const SignalFd signals = VMHIVE_TRY(SignalFd::block({SIGINT, SIGTERM, SIGHUP, SIGQUIT}));
  if (!options_.control_socket.empty()) {
    auto control = control::ControlSocket::listen(options_.control_socket);
    if (!control.ok()) return with_context("--control", control.error());
    control_.emplace(std::move(*control));
  }
  StopController& stop = machine_.stop_controller();
  VMHIVE_CHECK(machine_.start());
  if (options_.on_running) options_.on_running();

  const bool interactive = machine_.console_is_stdio() && ::isatty(STDIN_FILENO);
  const auto raw_terminal = interactive ? RawTerminal::enter(STDIN_FILENO) : std::nullopt;
  while (!stop.stopping()) {
    pollfd fds[4] = {{signals.fd(), POLLIN, 0}, {stop.wake_fd(), POLLIN, 0}, {-1, POLLIN, 0},
                     {control_ ? control_->fd() : -1, POLLIN, 0}};
    if (stdin_open_ && pending_.size() < kMaxPendingInput) fds[2].fd = STDIN_FILENO;
    const int ready = ::poll(fds, 4, pending_.empty() ? -1 : kInputRetryMilliseconds);
    if (ready < 0 && errno != EINTR) return errno_error("poll failed");
    if (fds[0].revents & POLLIN) {
      if (const int signal = signals.take(); signal != 0) stop.request_stop(VmOutcome{VmOutcomeKind::kSignal, signal, {}});
    }
    if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) read_console_input(interactive);
    if (fds[3].revents & POLLIN) serve_control_request();
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

void Runner::serve_control_request() {
  auto connection = control_->accept_request(std::chrono::seconds(2));
  if (!connection.ok()) return;  // the client was told, or is gone
  control::ControlSocket::reply(*connection, control::serve_request(connection->line, controller_));
}

}  // namespace

VmOutcome run_machine(Machine& machine, const RunnerOptions& options) {
  Runner runner(machine, options);
  auto served = runner.serve();
  if (!served.ok()) machine.stop_controller().request_stop(VmOutcome{VmOutcomeKind::kVmmError, 0, served.error().message});
  return machine.finish();
}

}  // namespace vmhive
