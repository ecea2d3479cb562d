#include "vmm/vcpu_loop.h"

#include <linux/kvm.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <string>

#include "common/hex.h"
#include "arch/x86/syscall_semantics.h"
#include "vmm/crash_report.h"
#include "vmm/emulation_completion.h"

namespace vmhive {
namespace {

std::string registers_of(const kvm::Vcpu& vcpu) {
  auto regs = vcpu.get_regs();
  if (!regs.ok()) return "  (registers unavailable: " + regs.error().message + ")\n";
  auto sregs = vcpu.get_sregs();
  return describe_registers(*regs, sregs.ok() ? std::optional<kvm_sregs>(*sregs) : std::nullopt);
}


// A crash of a VM whose RAM file shrank under it is not the guest's doing:
// it is reported as what it is (exit status 1), not as a guest crash.
bool stopped_for_lost_memory(const VcpuLoopContext& context) {
  auto backing = context.memory->check_backing();
  if (backing.ok()) return false;
  context.stop->request_stop(VmOutcome{VmOutcomeKind::kVmmError, 0, backing.error().message});
  return true;
}

void stop_with_crash(const VcpuLoopContext& context, const std::string& what) {
  if (stopped_for_lost_memory(context)) return;
  std::string message = "vCPU " + std::to_string(context.vcpu->index()) + ": " + what + "\n" +
                        registers_of(*context.vcpu);
  context.stop->request_stop(VmOutcome{VmOutcomeKind::kCrash, 0, std::move(message)});
}

void stop_with_vmm_error(const VcpuLoopContext& context, const std::string& what) {
  if (stopped_for_lost_memory(context)) return;
  context.stop->request_stop(
      VmOutcome{VmOutcomeKind::kVmmError, 0, "vCPU " + std::to_string(context.vcpu->index()) + ": " + what});
}

void handle_system_event(const VcpuLoopContext& context, const kvm_run& run) {
  switch (run.system_event.type) {
    case KVM_SYSTEM_EVENT_SHUTDOWN:
      context.stop->request_stop(VmOutcome{VmOutcomeKind::kPowerOff, 0, {}});
      return;
    case KVM_SYSTEM_EVENT_RESET:
      context.stop->request_stop(VmOutcome{VmOutcomeKind::kReset, 0, {}});
      return;
    case KVM_SYSTEM_EVENT_CRASH:
      stop_with_crash(context, "the guest reported a crash (KVM system event)");
      return;
    default:
      stop_with_vmm_error(context, "unknown KVM system event " + std::to_string(run.system_event.type));
  }
}

// A guest write to a trapped MSR: only LSTAR is trapped, and only on KVM-PVM.
bool handle_msr_write(const VcpuLoopContext& context, kvm_run& run) {
  context.counters->msr_write.fetch_add(1, std::memory_order_relaxed);
  if (context.syscall_repair == nullptr || run.msr.index != x86::kMsrLstar) {
    run.msr.error = 1;  // the guest gets #GP, as for an MSR that does not exist
    return true;
  }
  auto written = context.syscall_repair->on_lstar_write(run.msr.data);
  if (!written.ok()) {
    stop_with_vmm_error(context, "LSTAR write: " + written.error().message);
    return false;
  }
  run.msr.error = 0;
  return true;
}

bool handle_debug_exit(const VcpuLoopContext& context, const kvm_run& run) {
  context.counters->debug.fetch_add(1, std::memory_order_relaxed);
  if (context.syscall_repair == nullptr) {
    stop_with_crash(context, "unexpected debug exit at " + hex(run.debug.arch.pc));
    return false;
  }
  auto outcome = context.syscall_repair->on_debug_exit(run.debug.arch);
  if (!outcome.ok()) {
    stop_with_crash(context, "finishing a SYSCALL failed: " + outcome.error().message);
    return false;
  }
  switch (*outcome) {
    case x86::DebugExitOutcome::kNotOurs:
      stop_with_crash(context, "unexpected debug exit at " + hex(run.debug.arch.pc) + " (DR6 " +
                                   hex(run.debug.arch.dr6) + ")");
      return false;
    case x86::DebugExitOutcome::kSyscallFinished:
      context.counters->syscalls_finished.fetch_add(1, std::memory_order_relaxed);
      return true;
    case x86::DebugExitOutcome::kResumed:
      return true;
  }
  return true;
}

// Returns false when the exit ends this vCPU's loop.
bool handle_exit(const VcpuLoopContext& context) {
  kvm_run& run = context.vcpu->run_state();
  switch (run.exit_reason) {
    case KVM_EXIT_IO:
      context.counters->io.fetch_add(1, std::memory_order_relaxed);
      handle_port_io(run, *context.io_bus);
      return true;
    case KVM_EXIT_MMIO:
      context.counters->mmio.fetch_add(1, std::memory_order_relaxed);
      if (run.mmio.is_write && context.text_watch != nullptr &&
          context.text_watch->on_write(context.vcpu->index(), run.mmio.phys_addr, run.mmio.len))
        return true;  // dropped: the text stays as it was
      handle_mmio(run, *context.mmio_bus);
      return true;
    case KVM_EXIT_HLT:  // only without an in-kernel local APIC; keep going
    case KVM_EXIT_IRQ_WINDOW_OPEN:
      context.counters->other.fetch_add(1, std::memory_order_relaxed);
      return true;
    case KVM_EXIT_INTR:
      context.counters->signal.fetch_add(1, std::memory_order_relaxed);
      return true;
    case KVM_EXIT_SHUTDOWN:
      stop_with_crash(context, "triple fault (the guest took an exception it could not handle)");
      return false;
    case KVM_EXIT_INTERNAL_ERROR: {
      if (complete_emulation_failure(*context.vcpu, run, *context.memory)) {
        context.counters->completed.fetch_add(1, std::memory_order_relaxed);
        return true;
      }
      // The decoder names the instruction for the mode the vCPU was in.
      const auto sregs = context.vcpu->get_sregs();
      stop_with_crash(context, describe_internal_error(run, sregs.ok() ? std::optional<bool>(sregs->cs.l != 0)
                                                                        : std::nullopt));
      return false;
    }
    case KVM_EXIT_FAIL_ENTRY:
      stop_with_crash(context, "KVM could not enter the guest (hardware reason " +
                                   hex(run.fail_entry.hardware_entry_failure_reason) + ")");
      return false;
    case KVM_EXIT_X86_WRMSR:
      return handle_msr_write(context, run);
    case KVM_EXIT_DEBUG:
      return handle_debug_exit(context, run);
    case KVM_EXIT_SYSTEM_EVENT:
      handle_system_event(context, run);
      return false;
    default:
      stop_with_vmm_error(context, "unhandled KVM exit reason " + std::to_string(run.exit_reason));
      return false;
  }
}

}  // namespace

void handle_port_io(kvm_run& run, const IoBus& bus) {
  auto* base = reinterpret_cast<uint8_t*>(&run) + run.io.data_offset;
  for (uint32_t i = 0; i < run.io.count; ++i) {
    std::span<uint8_t> data(base + static_cast<size_t>(i) * run.io.size, run.io.size);
    if (run.io.direction == KVM_EXIT_IO_OUT) {
      bus.write(run.io.port, data);
    } else {
      bus.read(run.io.port, data);
    }
  }
}

void handle_mmio(kvm_run& run, const MmioBus& bus) {
  const size_t length = std::min<size_t>(run.mmio.len, sizeof run.mmio.data);
  if (run.mmio.is_write) {
    bus.write(run.mmio.phys_addr, std::span<const uint8_t>(run.mmio.data, length));
  } else {
    bus.read(run.mmio.phys_addr, std::span<uint8_t>(run.mmio.data, length));
  }
}

void run_vcpu_loop(const VcpuLoopContext& context) {
  if (context.thread_id != nullptr) context.thread_id->store(static_cast<uint64_t>(::gettid()), std::memory_order_relaxed);
  // A machine started paused (a snapshot loaded without resuming) parks
  // before its first entry: nothing is pending yet, so its state is whole.
  if (context.pause != nullptr && context.pause->pause_requested()) context.pause->park();
  while (!context.stop->stopping()) {
    auto entered = context.vcpu->run();
    if (!entered.ok()) {
      stop_with_vmm_error(context, entered.error().message);
      return;
    }
    if (!*entered) {  // kicked: a stop, or a pause (any pending I/O is complete now)
      context.counters->signal.fetch_add(1, std::memory_order_relaxed);
      if (context.pause != nullptr && context.pause->pause_requested()) context.pause->park();
      continue;
    }
    if (!handle_exit(context)) return;
  }
}

}  // namespace vmhive
