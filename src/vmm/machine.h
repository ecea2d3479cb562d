// One virtual machine, built (machine_builder.h): its KVM VM and vCPUs,
// guest RAM, legacy and PCI devices, and the threads that run them. It
// starts, pauses, captures its state for a snapshot and stops; what drives
// it (signals, console input, a control socket) is vm_runner.h, and what a
// controller may ask of it is machine_controller.h.
#pragma once

#include <linux/kvm.h>

#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "arch/x86/pvm_syscall_repair.h"
#include "common/result.h"
#include "devices/mmio_bus.h"
#include "kvm/kvm.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"
#include "memory/guest_memory.h"
#include "snapshot/machine_state.h"
#include "snapshot/snapshot_dir.h"
#include "vmm/console.h"
#include "vmm/counters_page.h"
#include "vmm/legacy_platform.h"
#include "vmm/pause_gate.h"
#include "vmm/text_write_watch.h"
#include "vmm/pci_platform.h"
#include "vmm/stop_controller.h"
#include "vmm/vcpu_loop.h"
#include "vmm/vcpu_threads.h"
#include "vmm/vm_outcome.h"

namespace vmhive {

class Machine {
 public:
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;
  ~Machine();  // stops the VM if it runs and joins every thread

  // Starts the device thread and one thread per vCPU. Signals the main loop
  // takes must be blocked first: the threads inherit the mask. With
  // `confine`, each thread installs its role's system-call filter before it
  // does anything else (confinement/seccomp_filters.h). With `vcpu_pins`,
  // vCPU i's thread first pins itself to host CPU vcpu_pins[i % n]. With
  // `paused`, the machine is paused before any vCPU runs an instruction
  // (resume() lets it go).
  Result<void> start(bool confine = false, std::span<const uint32_t> vcpu_pins = {}, bool paused = false);
  StopController& stop_controller() { return *stop_; }
  // Joins the threads once a stop was requested; the outcome decides.
  VmOutcome finish();

  // Console: whether output goes to stdout, and input for the UART (it takes
  // what fits and says how much).
  bool console_is_stdio() const { return console_->is_stdio(); }
  size_t send_console_input(std::span<const uint8_t> bytes) { return platform_->serial().enqueue_input(bytes); }
  // Types Ctrl-Alt-Del on the i8042's keyboard (any thread).
  Result<void> press_ctrl_alt_del() { return platform_->keyboard_controller().press_ctrl_alt_del(); }

  // Parks every vCPU between two instructions, and the device thread with
  // no request in flight; resume() lets both go on.
  Result<void> pause();
  void resume();
  // With the machine paused: everything but RAM, each device saving its own
  // files (a frozen disk) into `dir`.
  Result<snapshot::MachineState> capture_state(const snapshot::SnapshotDir& dir) const;
  // With the machine paused: guest RAM into `fd`, sparse. Returns bytes written.
  Result<uint64_t> save_memory(int fd) const { return memory_->save_to_file(fd); }

  // A one-line summary for --report-timing: start-up time, run time, exits.
  std::string timing_report() const;
  // The vCPUs' exits so far, by kind (the Firecracker API's metrics).
  struct ExitTotals {
    uint64_t io = 0, mmio = 0, other = 0;
  };
  ExitTotals exit_totals() const;
  // Every vCPU's exits by reason: io, mmio, signal, msr_write, debug,
  // internal_error (emulation failures vmhive completed) and other.
  std::vector<std::pair<std::string, uint64_t>> exits_by_reason() const;
  // Host CPU time of the vCPU threads so far, in seconds.
  double vcpu_seconds() { return threads_.cpu_seconds(); }
  // What each virtio device has done, in bus order.
  using DeviceTrafficReport = PciPlatform::DeviceTrafficReport;
  std::vector<DeviceTrafficReport> device_traffic() const;
  // Before start(): keep the vCPUs' and devices' counters in a counters
  // file at `path` (control/counters_file.h), made new, for a daemon to read.
  Result<void> publish_counters(const std::string& path);

 private:
  friend class MachineBuilder;
  Machine() : created_at_(std::chrono::steady_clock::now()) {}

  std::chrono::steady_clock::time_point created_at_;
  std::chrono::steady_clock::time_point started_at_;
  std::chrono::steady_clock::time_point stopped_at_;

  uint64_t memory_size_ = 0;
  std::vector<kvm_cpuid_entry2> cpuid_;  // after the CPU template, before per-vCPU fix-ups
  std::string template_name_;
  std::unique_ptr<PauseGate> pause_ = std::make_unique<PauseGate>();
  std::unique_ptr<StopController> stop_;
  std::unique_ptr<ConsoleOutput> console_;
  std::unique_ptr<kvm::Kvm> kvm_;
  std::unique_ptr<kvm::Vm> vm_;
  std::unique_ptr<GuestMemory> memory_;
  std::unique_ptr<LegacyPlatform> platform_;
  std::unique_ptr<MmioBus> mmio_bus_;  // empty until PCI devices claim ranges
  std::unique_ptr<PciPlatform> pci_;   // only when the guest has PCI devices
  std::vector<kvm::Vcpu> vcpus_;
  std::vector<std::unique_ptr<ExitCounters>> exit_counters_;
  std::unique_ptr<CountersPage> counters_page_;  // when published: the counters live there
  ExitCounters* exits_of(size_t vcpu) const;
  std::vector<GuestRange> kernel_text_;              // from the loader or the snapshot; kept in snapshots
  std::unique_ptr<TextWriteWatch> text_watch_;       // with --write-protect-text
  std::vector<std::unique_ptr<x86::PvmSyscallRepair>> syscall_repairs_;  // one per vCPU on KVM-PVM, else empty
  VcpuThreads threads_;  // declared last: joined before anything it uses is destroyed
};

}  // namespace vmhive
