#include "vmm/machine_builder.h"

#include <fcntl.h>

#include <algorithm>
#include <ctime>

#include "arch/x86/acpi/acpi_tables.h"
#include "arch/x86/acpi/pci_host.h"
#include "arch/x86/boot/kernel_loader.h"
#include "arch/x86/cpu_boot_state.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/layout.h"
#include "arch/x86/syscall_semantics.h"
#include "common/errno_error.h"
#include "common/host_memory.h"
#include "common/size_parse.h"
#include "kvm/kvm_state.h"
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

}  // namespace

Result<void> MachineBuilder::assemble_base(Machine& machine, const Base& base, GuestMemory memory) {
  machine.stop_ = VMHIVE_TRY(StopController::create());
  auto console = ConsoleOutput::open(base.console, base.console_limit);
  if (!console.ok()) return with_context("--console " + base.console, console.error());
  machine.console_ = std::make_unique<ConsoleOutput>(std::move(*console));

  const uint32_t max_vcpus = std::min<uint32_t>(static_cast<uint32_t>(machine.kvm_->max_vcpus()), kMaxVcpusByApicIds);
  if (base.vcpu_count == 0 || base.vcpu_count > max_vcpus) {
    return make_error("--cpus " + std::to_string(base.vcpu_count) + ": this host allows 1 to " +
                      std::to_string(max_vcpus) + " vCPUs");
  }
  machine.template_name_ = base.cpu_template;
  machine.memory_size_ = base.memory_size;
  machine.memory_ = std::make_unique<GuestMemory>(std::move(memory));

  machine.vm_ = std::make_unique<kvm::Vm>(VMHIVE_TRY(kvm::Vm::create(*machine.kvm_)));
  if (machine.kvm_->backend() != kvm::Backend::kPvm) {
    VMHIVE_CHECK(machine.vm_->set_real_mode_helper_addresses(kRealModeTssAddress, kRealModeIdentityMapAddress));
  }
  VMHIVE_CHECK(machine.vm_->create_irqchip_and_pit());
  VMHIVE_CHECK(machine.vm_->map_memory(*machine.memory_));

  machine.mmio_bus_ = std::make_unique<MmioBus>();
  Machine* owner = &machine;
  machine.platform_ = VMHIVE_TRY(LegacyPlatform::create(LegacyPlatformHooks{
      .console_output = [owner](uint8_t byte) { owner->console_->write(byte); },
      .set_irq = [owner](uint32_t irq, bool level) { (void)owner->vm_->set_irq_line(irq, level); },
      .stop = [owner](const StopRequest& request) { owner->stop_->request_stop(outcome_for(request)); },
      .wall_clock = [] { return static_cast<int64_t>(std::time(nullptr)); },
  }));
  return {};
}

Result<std::unique_ptr<Machine>> MachineBuilder::build(const VmConfig& config, std::vector<std::string>* warnings) {
  std::unique_ptr<Machine> machine(new Machine());
  machine->kvm_ = std::make_unique<kvm::Kvm>(VMHIVE_TRY(kvm::Kvm::open(config.kvm_device)));
  auto memory = GuestMemory::create(x86::ram_regions(config.memory_size));
  if (!memory.ok()) return with_context("--mem", memory.error());
  const std::string cpu_template =
      config.cpu_template.empty() ? default_template_for(machine->kvm_->backend()) : config.cpu_template;
  VMHIVE_CHECK(assemble_base(*machine, Base{config.console, config.console_limit, cpu_template, config.vcpu_count, config.memory_size},
                             std::move(*memory)));
  VMHIVE_CHECK(load_kernel_and_vcpus(*machine, config, warnings));
  VMHIVE_CHECK(arm_pvm_syscall_repair(*machine));
  VMHIVE_CHECK(protect_text(*machine, config.write_protect_text, config.alert_fd));
  return machine;
}

Result<void> MachineBuilder::load_kernel_and_vcpus(Machine& machine, const VmConfig& config,
                                                   std::vector<std::string>* warnings) {
  const x86::CpuTemplate* cpu_template = VMHIVE_TRY(x86::find_cpu_template(machine.template_name_));
  machine.cpuid_ = x86::apply_template(VMHIVE_TRY(machine.kvm_->supported_cpuid()), *cpu_template);

  // PCI exists only when a device needs it, so a VM without one is the
  // machine it was before PCI (nothing new for its guest to probe).
  if (config.entropy_device || !config.disks.empty() || !config.nets.empty()) {
    machine.pci_ = VMHIVE_TRY(PciPlatform::create(
        *machine.vm_, *machine.memory_, *machine.mmio_bus_, *machine.platform_,
        PciDevicesConfig{.entropy = config.entropy_device,
                         .disks = config.disks,
                         .nets = config.nets,
                         .poll_window = std::chrono::microseconds(config.device_poll_us)}));
  }

  x86::acpi::AcpiConfig acpi_config;
  acpi_config.cpu_count = config.vcpu_count;
  if (machine.pci_) {
    const x86::acpi::PciHostWindows windows{x86::kPciEcamAddress, 0,
                                            static_cast<uint32_t>(x86::kPciMmioWindowStart),
                                            static_cast<uint32_t>(x86::kPciMmioWindowEnd - 1)};
    acpi_config.extra_devices = x86::acpi::pci_host_devices(windows);
    acpi_config.extra_tables.push_back(x86::acpi::build_mcfg(windows));
  }
  const uint64_t rsdp_address = VMHIVE_TRY(x86::acpi::write_tables(*machine.memory_, acpi_config));

  const x86::BootEntry entry = VMHIVE_TRY(x86::load_kernel(
      *machine.memory_, x86::BootConfig{config.kernel_path, config.initrd_path, config.cmdline, config.memory_size,
                                        rsdp_address, std::string(cpu_template->linux_arguments)}));
  if (warnings != nullptr) warnings->insert(warnings->end(), entry.warnings.begin(), entry.warnings.end());
  machine.kernel_text_ = entry.text;
  const bool long_mode = entry.mode == x86::EntryMode::kLinux64;
  VMHIVE_CHECK(x86::write_boot_tables(*machine.memory_, long_mode));
  x86::CpuEntry cpu_entry{long_mode, entry.entry_point, long_mode ? 0 : entry.boot_info_address,
                          long_mode ? entry.boot_info_address : 0};

  for (uint32_t index = 0; index < config.vcpu_count; ++index) {
    machine.vcpus_.push_back(VMHIVE_TRY(machine.vm_->create_vcpu(index)));
    VMHIVE_CHECK(set_up_vcpu(machine.vcpus_.back(), VcpuSetup{&machine.cpuid_, config.vcpu_count, cpu_entry}));
    machine.exit_counters_.push_back(std::make_unique<ExitCounters>());
  }
  return {};
}

Result<void> MachineBuilder::arm_pvm_syscall_repair(Machine& machine) {
  if (machine.kvm_->backend() != kvm::Backend::kPvm) return {};
  VMHIVE_CHECK(machine.vm_->trap_msr_write(x86::kMsrLstar));
  for (const auto& vcpu : machine.vcpus_)
    machine.syscall_repairs_.push_back(std::make_unique<x86::PvmSyscallRepair>(vcpu, *machine.memory_));
  return {};
}

Result<std::unique_ptr<Machine>> MachineBuilder::restore(const RestoreConfig& config) {
  const snapshot::SnapshotDir dir = VMHIVE_TRY(snapshot::SnapshotDir::open(config.snapshot_dir));
  snapshot::LoadedSnapshot loaded = VMHIVE_TRY(dir.load());
  const snapshot::MachineState& state = loaded.state;

  // A state file is the user's input: the same limits as --mem.
  if (state.description.memory_size > host_physical_memory())
    return make_error("snapshot " + config.snapshot_dir + " needs " + format_size(state.description.memory_size) +
                      " of RAM; this host has " + format_size(host_physical_memory()));
  std::unique_ptr<Machine> machine(new Machine());
  machine->kvm_ = std::make_unique<kvm::Kvm>(VMHIVE_TRY(kvm::Kvm::open(config.kvm_device)));
  const std::string backend = kvm::backend_name(machine->kvm_->backend());
  if (backend != state.description.backend)
    return make_error("snapshot " + config.snapshot_dir + " was taken on a " + state.description.backend +
                      " host; this host is " + backend);
  VMHIVE_CHECK(x86::check_cpuid_supported(state.description.cpuid, VMHIVE_TRY(machine->kvm_->supported_cpuid())));

  const std::string memory_path = dir.path() + "/" + snapshot::SnapshotDir::kMemoryName;
  auto memory = GuestMemory::map_file_private(x86::ram_regions(state.description.memory_size), loaded.memory.get());
  if (!memory.ok()) return with_context(memory_path, memory.error());
  VMHIVE_CHECK(assemble_base(*machine,
                             Base{config.console, config.console_limit, state.description.cpu_template,
                                  state.description.vcpu_count,
                                  state.description.memory_size},
                             std::move(*memory)));
  VMHIVE_CHECK(restore_vcpus_and_devices(*machine, state));
  if (!state.virtio.empty()) {
    // Last, once the vCPUs' local APICs hold their state: a restored device
    // may interrupt at once.
    virtio::DeviceRestoreContext context = dir.restore_context(config.overlay_dir, config.overlay_prefix, config.net_links);
    context.shared_disks = config.shared_disks;
    machine->pci_ = VMHIVE_TRY(PciPlatform::restore(*machine->vm_, *machine->memory_, *machine->mmio_bus_,
                                                    *machine->platform_, state.virtio, context,
                                                    std::chrono::microseconds(config.device_poll_us)));
  } else if (!config.net_links.empty()) {
    return make_error("the snapshot has no virtio-net device for --net");
  }
  machine->kernel_text_ = state.kernel_text.ranges;
  VMHIVE_CHECK(protect_text(*machine, config.write_protect_text, config.alert_fd));
  return machine;
}

Result<void> MachineBuilder::protect_text(Machine& machine, bool protect, int alert_fd) {
  UniqueFd alert;
  if (alert_fd >= 0) {
    const int flags = ::fcntl(alert_fd, F_GETFL);
    if (flags < 0) return make_error("--alert-fd " + std::to_string(alert_fd) + ": not an open descriptor");
    if (::fcntl(alert_fd, F_SETFL, flags | O_NONBLOCK) != 0) return errno_error("--alert-fd: fcntl failed");
    alert = UniqueFd(alert_fd);
  }
  if (!protect) return {};
  if (machine.kernel_text_.empty())
    return make_error("--write-protect-text: the kernel's text is not known (it takes an ELF kernel, a vmlinux; a "
                      "bzImage does not say where its text is)");
  for (const GuestRange& range : machine.kernel_text_)
    if (!machine.memory_->contains(range.start, range.size))
      return make_error("--write-protect-text: the kernel text at " + std::to_string(range.start) + " is not in RAM");
  VMHIVE_CHECK(machine.vm_->map_memory(*machine.memory_, machine.kernel_text_));
  machine.text_watch_ = std::make_unique<TextWriteWatch>(machine.kernel_text_, std::move(alert));
  return {};
}

Result<void> MachineBuilder::restore_vcpus_and_devices(Machine& machine, const snapshot::MachineState& state) {
  machine.cpuid_ = state.description.cpuid;
  VMHIVE_CHECK(kvm::apply_vm(*machine.vm_, state.vm));
  const uint32_t count = state.description.vcpu_count;
  for (uint32_t index = 0; index < count; ++index) {
    machine.vcpus_.push_back(VMHIVE_TRY(machine.vm_->create_vcpu(index)));
    VMHIVE_CHECK(machine.vcpus_.back().set_cpuid(x86::cpuid_for_vcpu(machine.cpuid_, index, count)));
    auto applied = kvm::apply_vcpu(machine.vcpus_.back(), state.vcpus[index]);
    if (!applied.ok()) return with_context("restoring vCPU " + std::to_string(index), applied.error());
    machine.exit_counters_.push_back(std::make_unique<ExitCounters>());
  }
  machine.platform_->restore(LegacyPlatform::State{state.uart, state.rtc, state.i8042, state.keyboard});
  VMHIVE_CHECK(arm_pvm_syscall_repair(machine));
  for (size_t index = 0; index < machine.syscall_repairs_.size() && index < state.syscall_repairs.size(); ++index)
    VMHIVE_CHECK(machine.syscall_repairs_[index]->restore(state.syscall_repairs[index]));
  return {};
}

}  // namespace vmhive
