#include "vmm/api_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/errno_error.h"
#include "common/fd_io.h"
#include "common/signal_fd.h"
#include "common/size_parse.h"
#include "common/unique_fd.h"
#include "fcapi/fc_api.h"
#include "http/http_server.h"
#include "vmm/machine_builder.h"
#include "vmm/machine_controller.h"
#include "vmm/vm_runner.h"

namespace vmhive {
namespace {

// A file the API names for the VMM to write to (the logger's, the
// metrics'): appended to, never through a link, created 0600. A FIFO needs
// its reader already, as Firecracker's do: opening does not wait for one.
Result<UniqueFd> open_output(const std::string& path, const char* what) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600));
  if (!fd.valid()) return errno_error(std::string("cannot open the ") + what + " file", path);
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) return errno_error("fstat failed", path);
  if (!S_ISREG(info.st_mode) && !S_ISFIFO(info.st_mode))
    return make_error(ErrorKind::kInvalid, std::string("the ") + what + " file " + path + " is neither a file nor a FIFO");
  // Written like stderr from here on: blocking, so no line is cut short.
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) return errno_error("fcntl failed", path);
  return fd;
}

// The VMM side of the API: a Machine built or restored on request.
class ApiVmm final : public fcapi::Vmm {
 public:
  explicit ApiVmm(const ApiRunOptions& options) : options_(options) {}

  Result<void> boot(const config::VmSpec& spec) override {
    const VmConfig config = VMHIVE_TRY(config::make_vm_config(spec, config::probe_host()));
    std::vector<std::string> warnings;
    auto machine = MachineBuilder::build(config, &warnings);
    for (const std::string& warning : warnings) std::fprintf(stderr, "vmhive: warning: %s\n", warning.c_str());
    if (!machine.ok()) return machine.error();
    adopt(std::move(*machine), false);
    control_socket_ = config.control_socket;
    vcpu_pins_ = config.cpu.pins;
    return {};
  }

  Result<void> load_snapshot(const std::string& dir, bool resume) override {
    RestoreConfig config;
    config.snapshot_dir = dir;
    config.console = options_.base.console;
    config.console_limit = VMHIVE_TRY(parse_console_limit(options_.base.console_limit));
    config.control_socket = options_.base.control;
    config.kvm_device = options_.base.kvm_device;
    config.report_timing = options_.base.report_timing;
    config.device_poll_us = options_.base.device_poll_us;
    adopt(VMHIVE_TRY(MachineBuilder::restore(config)), !resume);
    control_socket_ = config.control_socket;
    return {};
  }

  // Null until the runner has started the machine: before that a pause
  // would wait for vCPU threads that do not exist yet.
  control::VmController* controller() override { return running_ ? controller_.get() : nullptr; }

  Result<void> open_logger(const std::string& path) override {
    const UniqueFd log = VMHIVE_TRY(open_output(path, "log"));
    // Every line the VMM writes goes to stderr; from now on that is the log.
    std::fflush(stderr);
    if (::dup2(log.get(), STDERR_FILENO) < 0) return errno_error("cannot send the VMM's log to", path);
    return {};
  }

  Result<void> open_metrics(const std::string& path) override {
    metrics_ = VMHIVE_TRY(open_output(path, "metrics"));
    return {};
  }

  // One JSON line of the counters vmhive keeps (docs/firecracker-api.md).
  Result<void> flush_metrics(fcapi::InstanceState state) override {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    nlohmann::ordered_json line{
        {"utc_timestamp_ms", std::chrono::duration_cast<std::chrono::milliseconds>(now).count()},
        {"vmhive", {{"state", fcapi::state_name(state)}}}};
    if (machine_ && running_) {
      const Machine::ExitTotals exits = machine_->exit_totals();
      line["vmhive"]["vcpu_exits"] = {{"io", exits.io}, {"mmio", exits.mmio}, {"other", exits.other}};
    }
    return write_fully(metrics_.get(), line.dump() + "\n");
  }

  Machine* machine() { return machine_.get(); }
  MachineController* machine_controller() { return controller_.get(); }
  const std::string& control_socket() const { return control_socket_; }
  const std::vector<uint32_t>& vcpu_pins() const { return vcpu_pins_; }
  void set_running() { running_ = true; }

 private:
  void adopt(std::unique_ptr<Machine> machine, bool paused) {
    machine_ = std::move(machine);
    controller_ = std::make_unique<MachineController>(*machine_, paused);
  }

  const ApiRunOptions& options_;
  std::unique_ptr<Machine> machine_;
  std::unique_ptr<MachineController> controller_;
  bool running_ = false;
  std::string control_socket_;
  std::vector<uint32_t> vcpu_pins_;
  UniqueFd metrics_;
};

// The API's socket and state machine, served before the machine exists and,
// as the runner's LoopService, while it runs.
class ApiSession final : public LoopService {
 public:
  explicit ApiSession(const ApiRunOptions& options)
      : options_(options), vmm_(options), api_(vmm_, options.base, fcapi::kDefaultInstanceId) {}

  Result<VmOutcome> run();

  void add_poll_fds(std::vector<pollfd>& fds) const override { server_->add_poll_fds(fds); }
  int poll_timeout_ms() const override { return server_->poll_timeout_ms(); }
  void serve() override { server_->serve(handler_); }

 private:
  const ApiRunOptions& options_;
  ApiVmm vmm_;
  fcapi::FcApi api_;
  std::optional<http::HttpServer> server_;
  const http::Handler handler_ = [this](const http::Request& request, http::ConnectionId) { return api_.handle(request); };
};

Result<VmOutcome> ApiSession::run() {
  // Blocked before any thread starts (the runner blocks them again): a
  // signal while waiting for configuration ends the process as it would a VM.
  const SignalFd signals = VMHIVE_TRY(SignalFd::block({SIGINT, SIGTERM, SIGHUP, SIGQUIT}));
  http::ServerOptions server_options;
  server_options.max_connections = 64;  // tools use one or two
  server_options.error_body = [](int, std::string_view message) { return fcapi::fault_body(message); };
  auto server = http::HttpServer::listen(options_.socket_path, std::move(server_options));
  if (!server.ok()) return with_context("--api-sock", server.error());
  server_.emplace(std::move(*server));
  if (options_.boot_now) {
    VMHIVE_CHECK(vmm_.boot(options_.base));
    api_.mark_started();
  }
  std::vector<pollfd> fds;
  while (vmm_.machine() == nullptr) {
    fds = {{signals.fd(), POLLIN, 0}};
    server_->add_poll_fds(fds);
    if (::poll(fds.data(), fds.size(), server_->poll_timeout_ms()) < 0 && errno != EINTR)
      return errno_error("poll failed");
    if (fds[0].revents & POLLIN) {
      if (const int signal = signals.take(); signal != 0) return VmOutcome{VmOutcomeKind::kSignal, signal, {}};
    }
    server_->serve(handler_);
  }
  // The reply to InstanceStart may still be queued: the runner's loop,
  // serving this API, sends it as the vCPUs start.
  RunnerOptions runner;
  runner.control_socket = vmm_.control_socket();
  runner.on_running = [this] { vmm_.set_running(); };
  runner.seccomp = options_.seccomp;
  runner.test_forbidden_call = options_.test_forbidden_call;
  runner.report_timing = options_.base.report_timing;
  runner.vcpu_pins = vmm_.vcpu_pins();
  runner.controller = vmm_.machine_controller();
  runner.service = this;
  const VmOutcome outcome = run_machine(*vmm_.machine(), runner);
  if (options_.base.report_timing) std::fprintf(stderr, "%s\n", vmm_.machine()->timing_report().c_str());
  return outcome;
}

}  // namespace

VmOutcome run_with_api(const ApiRunOptions& options) {
  ApiSession session(options);
  auto outcome = session.run();
  if (!outcome.ok()) return VmOutcome{VmOutcomeKind::kVmmError, 0, outcome.error().message};
  return *outcome;
}

}  // namespace vmhive
