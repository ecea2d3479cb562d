#include "vmm/machine.h"

#include <cinttypes>
#include <cstdio>

#include "confinement/seccomp_filters.h"
#include "host/cpu_pinning.h"
#include "kvm/kvm_state.h"

namespace vmhive {
namespace {

constexpr auto kPauseTimeout = std::chrono::seconds(10);

double milliseconds_between(std::chrono::steady_clock::time_point from, std::chrono::steady_clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

}  // namespace

Machine::~Machine() {
  if (stop_ && !stop_->stopping()) stop_->request_stop(VmOutcome{VmOutcomeKind::kVmmError, 0, "machine destroyed"});
  threads_.join_all();
}

Result<void> Machine::start(bool confine, std::span<const uint32_t> vcpu_pins, bool paused) {
  started_at_ = std::chrono::steady_clock::now();
  if (paused) pause_->request_pause();  // before any vCPU thread exists: each parks before its first entry
  const auto confine_as = [confine](confinement::ThreadRole role) -> std::function<Result<void>()> {
    if (!confine) return {};
    return [role] { return confinement::confine_thread(role); };
  };
  // vCPU i runs on host CPU pins[i % n]; the thread pins itself before its filter goes on.
  const auto vcpu_setup = [&](uint32_t index) -> std::function<Result<void>()> {
    std::function<Result<void>()> confine_vcpu = confine_as(confinement::ThreadRole::kVcpu);
    if (vcpu_pins.empty()) return confine_vcpu;
    const uint32_t host_cpu = vcpu_pins[index % vcpu_pins.size()];
    return [host_cpu, confine_vcpu]() -> Result<void> {
      VMHIVE_CHECK(host::pin_calling_thread(host_cpu));
      return confine_vcpu ? confine_vcpu() : Result<void>();
    };
  };
  VMHIVE_CHECK(VcpuThreads::install_kick_handler());
  stop_->set_on_stop([this] {
    pause_->shutdown();
    threads_.kick_all();
  });
  if (pci_) VMHIVE_CHECK(pci_->start(confine_as(confinement::ThreadRole::kDevice)));
  for (uint32_t index = 0; index < vcpus_.size(); ++index) {
    x86::PvmSyscallRepair* repair = syscall_repairs_.empty() ? nullptr : syscall_repairs_[index].get();
    VMHIVE_CHECK(threads_.start(VcpuLoopContext{&vcpus_[index], memory_.get(), &platform_->io_bus(),
                                                mmio_bus_.get(), stop_.get(), exits_of(index), repair,
                                                pause_.get(), counters_page_ ? counters_page_->thread_id(index) : nullptr,
                                                text_watch_.get()},
                                vcpu_setup(index)));
  }
  if (paused) return pause();  // waits for the vCPUs to park, and parks the device thread
  return {};
}

VmOutcome Machine::finish() {
  if (!stop_->stopping()) stop_->request_stop(VmOutcome{VmOutcomeKind::kVmmError, 0, "the VM ended without a stop"});
  threads_.join_all();
  stopped_at_ = std::chrono::steady_clock::now();
  return *stop_->outcome();
}

Result<void> Machine::pause() {
  pause_->request_pause();
  threads_.kick_all();
  if (!pause_->wait_until_parked(static_cast<uint32_t>(vcpus_.size()), kPauseTimeout)) {
    pause_->resume();
    return make_error(stop_->stopping() ? "the VM is stopping" : "the vCPUs did not pause within 10 s");
  }
  if (pci_) {
    if (auto parked = pci_->pause(); !parked.ok()) {
      pause_->resume();
      return parked.error();
    }
  }
  return {};
}

void Machine::resume() {
  if (pci_) pci_->resume();
  pause_->resume();
}

Result<snapshot::MachineState> Machine::capture_state(const snapshot::SnapshotDir& dir) const {
  snapshot::MachineState state;
  state.description.memory_size = memory_size_;
  state.description.vcpu_count = static_cast<uint32_t>(vcpus_.size());
  state.description.backend = kvm::backend_name(kvm_->backend());
  state.description.cpu_template = template_name_;
  state.description.cpuid = cpuid_;
  state.description.memory_file_size = memory_->total_size();
  state.kernel_text.ranges = kernel_text_;
  const std::vector<uint32_t> msr_indices = VMHIVE_TRY(kvm_->msr_index_list());
  for (const auto& vcpu : vcpus_) state.vcpus.push_back(VMHIVE_TRY(kvm::capture_vcpu(vcpu, msr_indices)));
  state.vm = VMHIVE_TRY(kvm::capture_vm(*vm_));
  const LegacyPlatform::State legacy = platform_->state();
  state.uart = legacy.uart;
  state.rtc = legacy.rtc;
  state.i8042 = legacy.i8042;
  state.keyboard = legacy.keyboard;
  for (const auto& repair : syscall_repairs_) state.syscall_repairs.push_back(repair->state());
  // Disks are frozen with the devices still: their content matches memory.
  if (pci_) state.virtio = VMHIVE_TRY(pci_->capture(dir));
  return state;
}

Machine::ExitTotals Machine::exit_totals() const {
  ExitTotals totals;
  for (size_t vcpu = 0; vcpu < exit_counters_.size(); ++vcpu) {
    const ExitCounters* counters = exits_of(vcpu);
    totals.io += counters->io.load();
    totals.mmio += counters->mmio.load();
    totals.other += counters->not_device();
  }
  return totals;
}

std::vector<std::pair<std::string, uint64_t>> Machine::exits_by_reason() const {
  std::vector<std::pair<std::string, uint64_t>> reasons = {{"io", 0},    {"mmio", 0},  {"signal", 0},
                                                           {"msr_write", 0}, {"debug", 0}, {"internal_error", 0},
                                                           {"other", 0}};
  for (size_t vcpu = 0; vcpu < exit_counters_.size(); ++vcpu) {
    const ExitCounters* counters = exits_of(vcpu);
    const uint64_t counts[] = {counters->io.load(),        counters->mmio.load(),  counters->signal.load(),
                               counters->msr_write.load(), counters->debug.load(), counters->completed.load(),
                               counters->other.load()};
    for (size_t i = 0; i < reasons.size(); ++i) reasons[i].second += counts[i];
  }
  return reasons;
}

ExitCounters* Machine::exits_of(size_t vcpu) const {
  return counters_page_ ? counters_page_->exits(vcpu) : exit_counters_[vcpu].get();
}

Result<void> Machine::publish_counters(const std::string& path) {
  if (started_at_ != std::chrono::steady_clock::time_point{})
    return make_error("--counters-file: the machine runs already");
  std::vector<CountersPage::Device> devices;
  std::vector<DeviceTrafficReport> present = device_traffic();
  for (const DeviceTrafficReport& device : present) devices.push_back({device.type, device.index});
  auto page = VMHIVE_TRY(CountersPage::create(path, vcpus_.size(), devices));
  counters_page_ = std::make_unique<CountersPage>(std::move(page));
  if (pci_)
    for (size_t device = 0; device < devices.size(); ++device) pci_->count_into(device, counters_page_->traffic(device));
  return {};
}

std::vector<Machine::DeviceTrafficReport> Machine::device_traffic() const {
  return pci_ ? pci_->traffic() : std::vector<DeviceTrafficReport>{};
}

std::string Machine::timing_report() const {
  uint64_t io = 0, mmio = 0, other = 0, completed = 0, syscalls = 0;
  for (size_t vcpu = 0; vcpu < exit_counters_.size(); ++vcpu) {
    const ExitCounters* counters = exits_of(vcpu);
    completed += counters->completed.load();
    syscalls += counters->syscalls_finished.load();
    io += counters->io.load();
    mmio += counters->mmio.load();
    other += counters->not_device();
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
