// One virtual machine, assembled from a VmConfig: KVM VM and vCPUs, guest
// RAM, the legacy devices, ACPI tables and the loaded kernel. run() starts
// the vCPU threads, serves the console and signals, and returns how the VM
// ended.
#pragma once

#include <chrono>
#include <functional>
#include <deque>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "control/control_request.h"
#include "control/control_socket.h"
#include "devices/mmio_bus.h"
#include "kvm/kvm.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"
#include "memory/guest_memory.h"
#include "vmm/console.h"
#include "vmm/legacy_platform.h"
#include "vmm/pause_gate.h"
#include "vmm/pci_platform.h"
#include "vmm/stop_controller.h"
#include "vmm/pvm_syscall_repair.h"
#include "vmm/vcpu_loop.h"
#include "vmm/vcpu_threads.h"
#include "vmm/vm_config.h"
#include "vmm/vm_outcome.h"
#include "snapshot/machine_state.h"

namespace vmhive {

class Machine {
 public:
  // Everything that can fail before the guest runs fails here, with one
  // message naming the input at fault.
  static Result<std::unique_ptr<Machine>> create(const VmConfig& config);
  // A machine that continues a snapshot (docs/snapshots.md): its RAM maps
  // the snapshot's memory file copy-on-write, so any number of machines can
  // restore one snapshot and share the pages none of them writes.
  static Result<std::unique_ptr<Machine>> restore(const RestoreConfig& config);

  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;
  ~Machine();

  // Runs the guest to its end. The outcome says how it ended; a VMM failure
  // while running is an outcome (kVmmError), not an error.
  VmOutcome run();
  // Called once on the main thread when every vCPU thread has started (the
  // guest is running): a clone server times its start-up by it.
  void set_on_running(std::function<void()> on_running) { on_running_ = std::move(on_running); }

  // A one-line summary for --report-timing: start-up time, run time, exits.
  std::string timing_report() const;

  // Writes a snapshot of the running machine to `dir` (created if missing):
  // pauses every vCPU, saves, and resumes. Returns a one-line JSON summary
  // of where the time went. Called on the main loop's thread.
  Result<std::string> snapshot(const std::string& dir);

 private:
  explicit Machine(const VmConfig& config);
  // What booting and restoring share: console, KVM, the VM with its in-kernel
  // interrupt controllers and timer, RAM slots, the legacy devices.
  Result<void> assemble_base(GuestMemory memory, std::string_view default_template);
  Result<void> assemble();
  Result<void> assemble_from(const snapshot::MachineState& state, GuestMemory memory);
  Result<void> arm_pvm_syscall_repair();
  Result<void> pause_vcpus();
  void resume_vcpus();
  Result<snapshot::MachineState> capture_state() const;
  void serve_control_request();
  Result<void> serve_until_stopped();
  void forward_console_input(std::deque<uint8_t>& pending);

  VmConfig config_;
  std::chrono::steady_clock::time_point created_at_;
  std::chrono::steady_clock::time_point started_at_;
  std::function<void()> on_running_;
  std::chrono::steady_clock::time_point stopped_at_;

  std::vector<kvm_cpuid_entry2> cpuid_;  // after the CPU template, before per-vCPU fix-ups
  std::string template_name_;
  std::unique_ptr<PauseGate> pause_ = std::make_unique<PauseGate>();
  bool paused_ = false;  // by a control request
  std::optional<control::ControlSocket> control_;
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
  std::vector<std::unique_ptr<PvmSyscallRepair>> syscall_repairs_;  // one per vCPU on KVM-PVM, else empty
  VcpuThreads threads_;  // declared last: joined before anything it uses is destroyed
};

}  // namespace vmhive
