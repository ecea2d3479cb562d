#include "vmm/machine.h"

#include "arch/x86/syscall_semantics.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "arch/x86/acpi/acpi_tables.h"
#include "arch/x86/acpi/pci_host.h"
#include "arch/x86/boot/kernel_loader.h"
#include "arch/x86/cpu_boot_state.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/layout.h"
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

Result<void> Machine::assemble() {
  stop_ = VMHIVE_TRY(StopController::create());
  auto console = ConsoleOutput::open(config_.console);
  if (!console.ok()) return with_context("--console " + config_.console, console.error());
  console_ = std::make_unique<ConsoleOutput>(std::move(*console));

  kvm_ = std::make_unique<kvm::Kvm>(VMHIVE_TRY(kvm::Kvm::open(config_.kvm_device)));
  const uint32_t max_vcpus = std::min<uint32_t>(static_cast<uint32_t>(kvm_->max_vcpus()), kMaxVcpusByApicIds);
  if (config_.vcpu_count == 0 || config_.vcpu_count > max_vcpus) {
    return make_error("--cpus " + std::to_string(config_.vcpu_count) + ": this host allows 1 to " +
                      std::to_string(max_vcpus) + " vCPUs");
  }
  std::string template_name =
      config_.cpu_template.empty() ? default_template_for(kvm_->backend()) : config_.cpu_template;
  const x86::CpuTemplate* cpu_template = VMHIVE_TRY(x86::find_cpu_template(template_name));
  const auto cpuid = x86::apply_template(VMHIVE_TRY(kvm_->supported_cpuid()), *cpu_template);

  auto memory = GuestMemory::create(x86::ram_regions(config_.memory_size));
  if (!memory.ok()) return with_context("--mem", memory.error());
  memory_ = std::make_unique<GuestMemory>(std::move(*memory));

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
    VMHIVE_CHECK(set_up_vcpu(vcpus_.back(), VcpuSetup{&cpuid, config_.vcpu_count, cpu_entry}));
    exit_counters_.push_back(std::make_unique<ExitCounters>());
  }
  if (kvm_->backend() == kvm::Backend::kPvm) {
    VMHIVE_CHECK(vm_->trap_msr_write(x86::kMsrLstar));
    for (const auto& vcpu : vcpus_) syscall_repairs_.push_back(std::make_unique<PvmSyscallRepair>(vcpu, *memory_));
  }
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
  stop_->set_on_stop([this] { threads_.kick_all(); });
  if (pci_) VMHIVE_CHECK(pci_->start());
  for (uint32_t index = 0; index < vcpus_.size(); ++index) {
    PvmSyscallRepair* repair = syscall_repairs_.empty() ? nullptr : syscall_repairs_[index].get();
    VMHIVE_CHECK(threads_.start(VcpuLoopContext{&vcpus_[index], memory_.get(), &platform_->io_bus(),
                                                mmio_bus_.get(), stop_.get(), exit_counters_[index].get(),
                                                repair}));
  }

  const bool interactive = console_->is_stdio() && ::isatty(STDIN_FILENO);
  const auto raw_terminal = interactive ? RawTerminal::enter(STDIN_FILENO) : std::nullopt;
  ConsoleEscape escape;
  bool stdin_open = true;
  std::vector<uint8_t> pending;  // console input the UART has not taken yet
  constexpr size_t kMaxPending = 4096;
  constexpr int kRetryMilliseconds = 10;

  while (!stop_->stopping()) {
    pollfd fds[3] = {{signals.fd(), POLLIN, 0}, {stop_->wake_fd(), POLLIN, 0}, {-1, POLLIN, 0}};
    if (stdin_open && pending.size() < kMaxPending) fds[2].fd = STDIN_FILENO;
    int ready = ::poll(fds, 3, pending.empty() ? -1 : kRetryMilliseconds);
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
    if (!pending.empty()) {
      size_t accepted = platform_->serial().enqueue_input(pending);
      pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(accepted));
    }
  }
  return {};
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
