// The life of one vCPU thread: KVM_RUN, hand each exit to the device that
// answers it, and turn the exits that end a VM (triple fault, emulation
// failure, a system event) into a stop request.
#pragma once

#include <atomic>
#include <cstdint>

#include "devices/io_bus.h"
#include "devices/mmio_bus.h"
#include "kvm/vcpu.h"
#include "memory/guest_memory.h"
#include "vmm/pause_gate.h"
#include "arch/x86/pvm_syscall_repair.h"
#include "vmm/stop_controller.h"
#include "vmm/text_write_watch.h"

namespace vmhive {

// Exits seen by one vCPU, by kind (what --report-timing prints).
struct ExitCounters {
  std::atomic<uint64_t> io{0};
  std::atomic<uint64_t> mmio{0};
  std::atomic<uint64_t> signal{0};     // KVM_RUN interrupted: a pause, a stop or a device kick
  std::atomic<uint64_t> msr_write{0};  // trapped MSR writes (LSTAR on KVM-PVM)
  std::atomic<uint64_t> debug{0};      // debug exits (finishing SYSCALLs on KVM-PVM)
  std::atomic<uint64_t> other{0};      // HLT without an in-kernel APIC, interrupt windows
  std::atomic<uint64_t> completed{0};  // emulation failures vmhive completed (e.g. INT3 on PVM)
  std::atomic<uint64_t> syscalls_finished{0};  // SYSCALLs KVM-PVM left in ring 3 (pvm_syscall_repair.h)

  // Exits that reached no device: signal, MSR write, debug and other.
  uint64_t not_device() const { return signal.load() + msr_write.load() + debug.load() + other.load(); }
  // Every exit but completed emulation failures (those are counted apart).
  uint64_t total() const { return io.load() + mmio.load() + not_device(); }
};

struct VcpuLoopContext {
  const kvm::Vcpu* vcpu;
  const GuestMemory* memory;
  const IoBus* io_bus;
  const MmioBus* mmio_bus;
  StopController* stop;
  ExitCounters* counters;
  x86::PvmSyscallRepair* syscall_repair = nullptr;  // only on KVM-PVM
  PauseGate* pause = nullptr;                   // parks the vCPU for snapshots
  std::atomic<uint64_t>* thread_id = nullptr;   // where the thread says its id (a counters file)
  TextWriteWatch* text_watch = nullptr;         // with --write-protect-text: takes writes to the kernel's text
};

// Runs until the stop controller says stop; every way a vCPU can end the VM
// (or fail) becomes a stop request, so the thread never decides alone.
void run_vcpu_loop(const VcpuLoopContext& context);

// Handles one KVM_EXIT_IO: `count` accesses of `size` bytes each in the run
// structure's data area (a REP INS/OUTS gives count > 1). Exposed for tests.
void handle_port_io(kvm_run& run, const IoBus& bus);

// Handles one KVM_EXIT_MMIO (1 to 8 bytes). Exposed for tests.
void handle_mmio(kvm_run& run, const MmioBus& bus);

}  // namespace vmhive
