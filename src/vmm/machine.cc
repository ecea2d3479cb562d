#include "vmm/machine.h"

#include "arch/x86/syscall_semantics.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <climits>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "arch/x86/acpi/acpi_tables.h"
#include "arch/x86/acpi/pci_host.h"
#include "arch/x86/boot/kernel_loader.h"
#include "arch/x86/cpu_boot_state.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/layout.h"
#include "snapshot/kvm_state.h"
#include "snapshot/state_file.h"
#include "vmm/vcpu_setup.h"

namespace vmhive {
namespace {

// xAPIC ids are 8 bits, 0xff is the broadcast id, and the IOAPIC takes the
// id after the last CPU's.
constexpr uint32_t kMaxVcpusByApicIds = 254;

// VMX's real-mode helpers (KVM_SET_TSS_ADDR, the identity map) sit in the
// PCI hole, below the IOAPIC, where no RAM or device lives.
constexpr uint64_t kRealModeTssAddress = 0xfffbd000;
constexpr uint64_t kRealModeIdentityMapAddress = 0xfffbc000;

const char* default_template_for(kvm::Backend backend) { return backend == kvm::Backend::kPvm ? "pvm" : "host"; }

VmOutcome outcome_for(const StopRequest& request) {
  switch (request.reason) {
    case StopReason::kPowerOff: return VmOutcome{VmOutcomeKind::kPowerOff, 0, {}};
    case StopReason::kReset: return VmOutcome{VmOutcomeKind::kReset, 0, {}};
    case StopReason::kDebugExit: return VmOutcome{VmOutcomeKind::kDebugExit, request.debug_exit_code, {}};
  }
  return VmOutcome{VmOutcomeKind::kVmmError, 0, "unknown stop request"};
}

double milliseconds_between(std::chrono::steady_clock::time_point from, std::chrono::steady_clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// Termination signals arrive through a signalfd in the main loop; every
// thread started afterwards inherits the blocked mask.
class TerminationSignals {
 public:
  static Result<TerminationSignals> block() {
    sigset_t set;
    sigemptyset(&set);
    for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&set, signal);
    sigset_t previous;
    if (::pthread_sigmask(SIG_BLOCK, &set, &previous) != 0) return make_error("cannot block termination signals");
    int fd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd < 0) {
      ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
      return make_error(std::string("signalfd failed: ") + std::strerror(errno));
    }
    return TerminationSignals(UniqueFd(fd), previous);
  }
  TerminationSignals(TerminationSignals&&) = default;
  TerminationSignals& operator=(TerminationSignals&&) = delete;
  ~TerminationSignals() {
    if (fd_.valid()) ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }

  int fd() const { return fd_.get(); }
  // The signal number waiting on the fd, or 0.
  int take() const {
    signalfd_siginfo info{};
    return ::read(fd_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info) ? static_cast<int>(info.ssi_signo)
                                                                                      : 0;
  }

 private:
  TerminationSignals(UniqueFd fd, sigset_t previous) : fd_(std::move(fd)), previous_(previous) {}
  UniqueFd fd_;
  sigset_t previous_;
};

}  // namespace

Machine::Machine(const VmConfig& config) : config_(config), created_at_(std::chrono::steady_clock::now()) {}

Machine::~Machine() {
  if (stop_ && !stop_->stopping()) stop_->request_stop(VmOutcome{VmOutcomeKind::kVmmError, 0, "machine destroyed"});
  threads_.join_all();
}

Result<std::unique_ptr<Machine>> Machine::create(const VmConfig& config) {
  std::unique_ptr<Machine> machine(new Machine(config));
  VMHIVE_CHECK(machine->assemble());
  return machine;
}

Result<void> Machine::assemble_base(GuestMemory memory, std::string_view default_template) {
  stop_ = VMHIVE_TRY(StopController::create());
  auto console = ConsoleOutput::open(config_.console);
  if (!console.ok()) return with_context("--console " + config_.console, console.error());
  console_ = std::make_unique<ConsoleOutput>(std::move(*console));
  if (!config_.control_socket.empty()) {
    auto control = control::ControlSocket::listen(config_.control_socket);
    if (!control.ok()) return with_context("--control", control.error());
    control_.emplace(std::move(*control));
  }

  const uint32_t max_vcpus = std::min<uint32_t>(static_cast<uint32_t>(kvm_->max_vcpus()), kMaxVcpusByApicIds);
  if (config_.vcpu_count == 0 || config_.vcpu_count > max_vcpus) {
    return make_error("--cpus " + std::to_string(config_.vcpu_count) + ": this host allows 1 to " +
                      std::to_string(max_vcpus) + " vCPUs");
  }
  template_name_ = config_.cpu_template.empty() ? std::string(default_template) : config_.cpu_template;
  memory_ = std::make_unique<GuestMemory>(std::move(memory));

  vm_ = std::make_unique<kvm::Vm>(VMHIVE_TRY(kvm::Vm::create(*kvm_)));
  if (kvm_->backend() != kvm::Backend::kPvm) {
    VMHIVE_CHECK(vm_->set_real_mode_helper_addresses(kRealModeTssAddress, kRealModeIdentityMapAddress));
  }
  VMHIVE_CHECK(vm_->create_irqchip_and_pit());
  VMHIVE_CHECK(vm_->map_memory(*memory_));

  mmio_bus_ = std::make_unique<MmioBus>();
  platform_ = VMHIVE_TRY(LegacyPlatform::create(LegacyPlatformHooks{
      .console_output = [this](uint8_t byte) { console_->write(byte); },
      .set_irq = [this](uint32_t irq, bool level) { (void)vm_->set_irq_line(irq, level); },
      .stop = [this](const StopRequest& request) { stop_->request_stop(outcome_for(request)); },
      .wall_clock = [] { return static_cast<int64_t>(std::time(nullptr)); },
  }));
  return {};
}

Result<void> Machine::assemble() {
  kvm_ = std::make_unique<kvm::Kvm>(VMHIVE_TRY(kvm::Kvm::open(config_.kvm_device)));
  auto memory = GuestMemory::create(x86::ram_regions(config_.memory_size));
  if (!memory.ok()) return with_context("--mem", memory.error());
  VMHIVE_CHECK(assemble_base(std::move(*memory), default_template_for(kvm_->backend())));
  const x86::CpuTemplate* cpu_template = VMHIVE_TRY(x86::find_cpu_template(template_name_));
  cpuid_ = x86::apply_template(VMHIVE_TRY(kvm_->supported_cpuid()), *cpu_template);

  // PCI exists only when a device needs it, so a VM without one is the
  // machine it was before PCI (nothing new for its guest to probe).
  if (config_.entropy_device || !config_.disks.empty() || !config_.nets.empty()) {
    pci_ = VMHIVE_TRY(PciPlatform::create(
        *vm_, *memory_, *mmio_bus_, *platform_,
        PciDevicesConfig{.entropy = config_.entropy_device,
                         .disks = config_.disks,
                         .nets = config_.nets,
                         .poll_window = std::chrono::microseconds(config_.device_poll_us)}));
  }

  x86::acpi::AcpiConfig acpi_config;
  acpi_config.cpu_count = config_.vcpu_count;
  if (pci_) {
    const x86::acpi::PciHostWindows windows{x86::kPciEcamAddress, 0,
                                            static_cast<uint32_t>(x86::kPciMmioWindowStart),
                                            static_cast<uint32_t>(x86::kPciMmioWindowEnd - 1)};
    acpi_config.extra_devices = x86::acpi::pci_host_devices(windows);
    acpi_config.extra_tables.push_back(x86::acpi::build_mcfg(windows));
  }
  const uint64_t rsdp_address = VMHIVE_TRY(x86::acpi::write_tables(*memory_, acpi_config));

  const x86::BootEntry entry = VMHIVE_TRY(x86::load_kernel(
      *memory_, x86::BootConfig{config_.kernel_path, config_.initrd_path, config_.cmdline, config_.memory_size,
                                rsdp_address, std::string(cpu_template->linux_arguments)}));
  const bool long_mode = entry.mode == x86::EntryMode::kLinux64;
  VMHIVE_CHECK(x86::write_boot_tables(*memory_, long_mode));
  x86::CpuEntry cpu_entry{long_mode, entry.entry_point, long_mode ? 0 : entry.boot_info_address,
                          long_mode ? entry.boot_info_address : 0};

  for (uint32_t index = 0; index < config_.vcpu_count; ++index) {
    vcpus_.push_back(VMHIVE_TRY(vm_->create_vcpu(index)));
    VMHIVE_CHECK(set_up_vcpu(vcpus_.back(), VcpuSetup{&cpuid_, config_.vcpu_count, cpu_entry}));
    exit_counters_.push_back(std::make_unique<ExitCounters>());
  }
  return arm_pvm_syscall_repair();
}

Result<void> Machine::arm_pvm_syscall_repair() {
  if (kvm_->backend() != kvm::Backend::kPvm) return {};
  VMHIVE_CHECK(vm_->trap_msr_write(x86::kMsrLstar));
  for (const auto& vcpu : vcpus_) syscall_repairs_.push_back(std::make_unique<PvmSyscallRepair>(vcpu, *memory_));
  return {};
}

VmOutcome Machine::run() {
  started_at_ = std::chrono::steady_clock::now();
  auto served = serve_until_stopped();
  stop_->request_stop(served.ok() ? VmOutcome{VmOutcomeKind::kVmmError, 0, "the main loop ended without a stop"}
                                  : VmOutcome{VmOutcomeKind::kVmmError, 0, served.error().message});
  threads_.join_all();
  stopped_at_ = std::chrono::steady_clock::now();
  return *stop_->outcome();
}

Result<void> Machine::serve_until_stopped() {
  auto signals = VMHIVE_TRY(TerminationSignals::block());
  VMHIVE_CHECK(VcpuThreads::install_kick_handler());
  stop_->set_on_stop([this] {
    pause_->shutdown();
    threads_.kick_all();
  });
  if (pci_) VMHIVE_CHECK(pci_->start());
  for (uint32_t index = 0; index < vcpus_.size(); ++index) {
    PvmSyscallRepair* repair = syscall_repairs_.empty() ? nullptr : syscall_repairs_[index].get();
    VMHIVE_CHECK(threads_.start(VcpuLoopContext{&vcpus_[index], memory_.get(), &platform_->io_bus(),
                                                mmio_bus_.get(), stop_.get(), exit_counters_[index].get(),
                                                repair, pause_.get()}));
  }
  if (on_running_) on_running_();

  const bool interactive = console_->is_stdio() && ::isatty(STDIN_FILENO);
  const auto raw_terminal = interactive ? RawTerminal::enter(STDIN_FILENO) : std::nullopt;
  ConsoleEscape escape;
  bool stdin_open = true;
  std::vector<uint8_t> pending;  // console input the UART has not taken yet
  constexpr size_t kMaxPending = 4096;
  constexpr int kRetryMilliseconds = 10;

  while (!stop_->stopping()) {
    pollfd fds[4] = {{signals.fd(), POLLIN, 0}, {stop_->wake_fd(), POLLIN, 0}, {-1, POLLIN, 0},
                     {control_ ? control_->fd() : -1, POLLIN, 0}};
    if (stdin_open && pending.size() < kMaxPending) fds[2].fd = STDIN_FILENO;
    int ready = ::poll(fds, 4, pending.empty() ? -1 : kRetryMilliseconds);
    if (ready < 0 && errno != EINTR) return make_error(std::string("poll failed: ") + std::strerror(errno));
    if (fds[0].revents & POLLIN) {
      if (int signal = signals.take(); signal != 0) {
        stop_->request_stop(VmOutcome{VmOutcomeKind::kSignal, signal, {}});
      }
    }
    if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) {
      uint8_t buffer[1024];
      ssize_t count = ::read(STDIN_FILENO, buffer, sizeof buffer);
      if (count <= 0 && !(count < 0 && (errno == EINTR || errno == EAGAIN))) {
        stdin_open = false;  // end of input: the guest just stops getting any
      } else if (count > 0) {
        std::span<const uint8_t> bytes(buffer, static_cast<size_t>(count));
        if (interactive) {
          auto filtered = escape.filter(bytes);
          pending.insert(pending.end(), filtered.begin(), filtered.end());
          if (escape.quit_requested()) stop_->request_stop(VmOutcome{VmOutcomeKind::kSignal, SIGINT, {}});
        } else {
          pending.insert(pending.end(), bytes.begin(), bytes.end());
        }
      }
    }
    if (fds[3].revents & POLLIN) serve_control_request();
    if (!pending.empty()) {
      size_t accepted = platform_->serial().enqueue_input(pending);
      pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(accepted));
    }
  }
  return {};
}

Result<std::unique_ptr<Machine>> Machine::restore(const RestoreConfig& config) {
  const std::string state_path = config.snapshot_dir + "/state";
  const std::string memory_path = config.snapshot_dir + "/memory";
  auto bytes = snapshot::read_whole_file(state_path, snapshot::kMaxStateFileBytes);
  if (!bytes.ok()) return with_context("snapshot " + config.snapshot_dir, bytes.error());
  auto file = snapshot::StateFile::parse(*bytes);
  if (!file.ok()) return with_context(state_path, file.error());
  auto state = snapshot::decode_machine_state(*file);
  if (!state.ok()) return with_context(state_path, state.error());

  VmConfig vm_config;
  vm_config.memory_size = state->description.memory_size;
  vm_config.vcpu_count = state->description.vcpu_count;
  vm_config.console = config.console;
  vm_config.cpu_template = state->description.cpu_template;
  vm_config.kvm_device = config.kvm_device;
  vm_config.report_timing = config.report_timing;
  vm_config.control_socket = config.control_socket;
  vm_config.device_poll_us = config.device_poll_us;
  std::unique_ptr<Machine> machine(new Machine(vm_config));

  machine->kvm_ = std::make_unique<kvm::Kvm>(VMHIVE_TRY(kvm::Kvm::open(config.kvm_device)));
  const std::string backend = kvm::backend_name(machine->kvm_->backend());
  if (backend != state->description.backend)
    return make_error("snapshot " + config.snapshot_dir + " was taken on a " + state->description.backend +
                      " host; this host is " + backend);
  VMHIVE_CHECK(x86::check_cpuid_supported(state->description.cpuid, VMHIVE_TRY(machine->kvm_->supported_cpuid())));

  UniqueFd memory_fd(::open(memory_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!memory_fd.valid()) return make_error("snapshot memory file " + memory_path + ": " + std::strerror(errno));
  auto memory = GuestMemory::map_file_private(x86::ram_regions(state->description.memory_size), memory_fd.get());
  if (!memory.ok()) return with_context(memory_path, memory.error());
  VMHIVE_CHECK(machine->assemble_from(*state, std::move(*memory)));
  if (!state->virtio.empty()) {
    // Last, once the vCPUs' local APICs hold their state: a restored device
    // may interrupt at once.
    char snapshot_dir[PATH_MAX];
    if (::realpath(config.snapshot_dir.c_str(), snapshot_dir) == nullptr)
      return make_error("snapshot " + config.snapshot_dir + ": " + std::strerror(errno));
    machine->pci_ = VMHIVE_TRY(PciPlatform::restore(
        *machine->vm_, *machine->memory_, *machine->mmio_bus_, *machine->platform_, state->virtio,
        RestoredPciDevices{.snapshot_dir = snapshot_dir,
                           .overlay_dir = config.overlay_dir,
                           .overlay_prefix = config.overlay_prefix,
                           .taps = config.taps,
                           .poll_window = std::chrono::microseconds(config.device_poll_us)}));
  } else if (!config.taps.empty()) {
    return make_error("the snapshot has no virtio-net device for --net");
  }
  return machine;
}

Result<void> Machine::assemble_from(const snapshot::MachineState& state, GuestMemory memory) {
  VMHIVE_CHECK(assemble_base(std::move(memory), state.description.cpu_template));
  cpuid_ = state.description.cpuid;
  VMHIVE_CHECK(snapshot::apply_vm(*vm_, state.vm));
  for (uint32_t index = 0; index < config_.vcpu_count; ++index) {
    vcpus_.push_back(VMHIVE_TRY(vm_->create_vcpu(index)));
    VMHIVE_CHECK(vcpus_.back().set_cpuid(x86::cpuid_for_vcpu(cpuid_, index, config_.vcpu_count)));
    auto applied = snapshot::apply_vcpu(vcpus_.back(), state.vcpus[index]);
    if (!applied.ok()) return with_context("restoring vCPU " + std::to_string(index), applied.error());
    exit_counters_.push_back(std::make_unique<ExitCounters>());
  }
  platform_->serial().restore(state.uart);
  platform_->rtc().restore(state.rtc);
  platform_->keyboard_controller().restore(state.i8042);
  VMHIVE_CHECK(arm_pvm_syscall_repair());
  if (!syscall_repairs_.empty()) {
    for (size_t index = 0; index < syscall_repairs_.size() && index < state.syscall_repairs.size(); ++index) {
      VMHIVE_CHECK(syscall_repairs_[index]->restore(state.syscall_repairs[index].handler,
                                                    state.syscall_repairs[index].stepping));
    }
  }
  return {};
}

Result<void> Machine::pause_vcpus() {
  pause_->request_pause();
  threads_.kick_all();
  if (!pause_->wait_until_parked(static_cast<uint32_t>(vcpus_.size()), std::chrono::seconds(10))) {
    pause_->resume();
    return make_error(stop_->stopping() ? "the VM is stopping" : "the vCPUs did not pause within 10 s");
  }
  return {};
}

void Machine::resume_vcpus() { pause_->resume(); }

Result<snapshot::MachineState> Machine::capture_state() const {
  snapshot::MachineState state;
  state.description.memory_size = config_.memory_size;
  state.description.vcpu_count = config_.vcpu_count;
  state.description.backend = kvm::backend_name(kvm_->backend());
  state.description.cpu_template = template_name_;
  state.description.cpuid = cpuid_;
  state.description.memory_file_size = memory_->total_size();
  const std::vector<uint32_t> msr_indices = VMHIVE_TRY(kvm_->msr_index_list());
  for (const auto& vcpu : vcpus_) state.vcpus.push_back(VMHIVE_TRY(snapshot::capture_vcpu(vcpu, msr_indices)));
  state.vm = VMHIVE_TRY(snapshot::capture_vm(*vm_));
  state.uart = platform_->serial().state();
  state.rtc = platform_->rtc().state();
  state.i8042 = platform_->keyboard_controller().state();
  for (const auto& repair : syscall_repairs_) {
    const auto [handler, stepping] = repair->state();
    state.syscall_repairs.push_back(snapshot::SyscallRepairState{handler, stepping});
  }
  return state;
}

Result<std::string> Machine::snapshot(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return make_error("snapshot directory " + dir + ": " + std::strerror(errno));
  // A directory with a state file is a complete snapshot: an older one's goes
  // first, so that a snapshot failing half-way (a disk copy done, the memory
  // file not) never leaves new files beside an old state file.
  if (::unlink((dir + "/state").c_str()) != 0 && errno != ENOENT)
    return make_error("snapshot directory " + dir + ": cannot replace its state file: " + std::strerror(errno));
  const auto start = std::chrono::steady_clock::now();
  const bool was_paused = paused_;
  if (!was_paused) VMHIVE_CHECK(pause_vcpus());
  if (pci_) {
    if (auto devices_paused = pci_->pause(); !devices_paused.ok()) {
      if (!was_paused) resume_vcpus();
      return devices_paused.error();
    }
  }
  const auto paused = std::chrono::steady_clock::now();
  auto written = [&]() -> Result<std::string> {
    snapshot::MachineState state = VMHIVE_TRY(capture_state());
    // Disks are frozen with the devices still: their content matches memory.
    if (pci_) state.virtio = VMHIVE_TRY(pci_->capture(dir));
    const auto captured = std::chrono::steady_clock::now();
    // Memory first, state last: a directory with a state file is complete.
    const std::string memory_path = dir + "/memory";
    const std::string memory_temp = memory_path + ".tmp";
    UniqueFd memory_fd(::open(memory_temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!memory_fd.valid()) return make_error("snapshot memory file " + memory_temp + ": " + std::strerror(errno));
    const uint64_t memory_bytes = VMHIVE_TRY(memory_->save_to_file(memory_fd.get()));
    if (::fsync(memory_fd.get()) != 0 || ::rename(memory_temp.c_str(), memory_path.c_str()) != 0)
      return make_error("snapshot memory file " + memory_path + ": " + std::strerror(errno));
    const auto memory_done = std::chrono::steady_clock::now();
    const std::vector<uint8_t> state_bytes = snapshot::encode_machine_state(state);
    VMHIVE_CHECK(snapshot::write_file_atomically(dir + "/state", state_bytes));
    const auto done = std::chrono::steady_clock::now();
    char summary[320];
    std::snprintf(summary, sizeof summary,
                  "\"pause_ms\":%.3f,\"capture_ms\":%.3f,\"memory_ms\":%.3f,\"state_ms\":%.3f,"
                  "\"total_ms\":%.3f,\"memory_bytes_written\":%llu,\"state_bytes\":%zu",
                  milliseconds_between(start, paused), milliseconds_between(paused, captured),
                  milliseconds_between(captured, memory_done), milliseconds_between(memory_done, done),
                  milliseconds_between(start, done), static_cast<unsigned long long>(memory_bytes),
                  state_bytes.size());
    return std::string(summary);
  }();
  if (pci_) pci_->resume();
  if (!was_paused) resume_vcpus();
  return written;
}

void Machine::serve_control_request() {
  auto connection = control_->accept_request(std::chrono::seconds(2));
  if (!connection.ok()) return;  // the client was told, or is gone
  auto request = control::parse_control_request(connection->line);
  if (!request.ok()) {
    control::ControlSocket::reply(*connection, control::error_reply(request.error().message));
    return;
  }
  std::string reply;
  switch (request->op) {
    case control::Operation::kSnapshot: {
      auto summary = snapshot(request->dir);
      if (!summary.ok()) {
        reply = control::error_reply(summary.error().message);
        break;
      }
      reply = control::ok_reply(*summary);
      if (!request->resume) {
        stop_->request_stop(VmOutcome{VmOutcomeKind::kStopped, 0, {}});
      }
      break;
    }
    case control::Operation::kPause:
      if (!paused_) {
        auto paused = pause_vcpus();
        if (!paused.ok()) {
          reply = control::error_reply(paused.error().message);
          break;
        }
        paused_ = true;
      }
      reply = control::ok_reply("\"state\":\"paused\"");
      break;
    case control::Operation::kResume:
      if (paused_) resume_vcpus();
      paused_ = false;
      reply = control::ok_reply("\"state\":\"running\"");
      break;
    case control::Operation::kStop:
      stop_->request_stop(VmOutcome{VmOutcomeKind::kStopped, 0, {}});
      reply = control::ok_reply("\"state\":\"stopping\"");
      break;
    case control::Operation::kStatus:
      reply = control::ok_reply(paused_ ? "\"state\":\"paused\"" : "\"state\":\"running\"");
      break;
  }
  control::ControlSocket::reply(*connection, reply);
}

std::string Machine::timing_report() const {
  uint64_t io = 0, mmio = 0, other = 0, completed = 0, syscalls = 0;
  for (const auto& counters : exit_counters_) {
    completed += counters->completed.load();
    syscalls += counters->syscalls_finished.load();
    io += counters->io.load();
    mmio += counters->mmio.load();
    other += counters->other.load();
  }
  char text[320];
  std::snprintf(text, sizeof text,
                "vmhive: timing: set-up %.2f ms, guest ran %.2f ms, exits %" PRIu64 " (port I/O %" PRIu64
                ", MMIO %" PRIu64 ", other %" PRIu64 "), emulation failures completed %" PRIu64
                ", SYSCALLs finished %" PRIu64,
                milliseconds_between(created_at_, started_at_), milliseconds_between(started_at_, stopped_at_),
                io + mmio + other, io, mmio, other, completed, syscalls);
  return text;
}

}  // namespace vmhive
