// The state KVM holds for a VM and its vCPUs, read out of a paused VM and
// written back into a fresh one (snapshots, and later migration), with each
// state's fields described once for encoding and decoding (common/state_codec.h).
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <vector>

#include "common/result.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

namespace vmhive::kvm {

struct VcpuState {
  static constexpr size_t kMaxMsrs = 2048;

  kvm_regs regs{};
  kvm_sregs sregs{};
  XsaveArea xsave{};
  kvm_xcrs xcrs{};
  kvm_vcpu_events events{};
  kvm_mp_state mp_state{};
  kvm_debugregs debugregs{};
  kvm_lapic_state lapic{};
  std::vector<MsrValue> msrs;

  template <class Codec, class Self>
  static Result<void> fields(Codec& codec, Self& self) {
    VMHIVE_CHECK(codec.object(self.regs));
    VMHIVE_CHECK(codec.object(self.sregs));
    VMHIVE_CHECK(codec.object(self.xsave));
    VMHIVE_CHECK(codec.object(self.xcrs));
    VMHIVE_CHECK(codec.object(self.events));
    VMHIVE_CHECK(codec.object(self.mp_state));
    VMHIVE_CHECK(codec.object(self.debugregs));
    VMHIVE_CHECK(codec.object(self.lapic));
    return codec.list(self.msrs, kMaxMsrs, [](auto& c, auto& msr) { return c.field(msr.index, msr.value); });
  }
  Result<void> check() const {
    if (xcrs.nr_xcrs > KVM_MAX_XCRS) return make_error(std::to_string(xcrs.nr_xcrs) + " XCRs");
    return {};
  }
};

// The in-kernel devices: PIC master and slave, IOAPIC, PIT, kvmclock.
struct VmState {
  kvm_irqchip pic_master{};
  kvm_irqchip pic_slave{};
  kvm_irqchip ioapic{};
  kvm_pit_state2 pit{};
  kvm_clock_data clock{};

  template <class Codec, class Self>
  static Result<void> fields(Codec& codec, Self& self) {
    VMHIVE_CHECK(codec.object(self.pic_master));
    VMHIVE_CHECK(codec.object(self.pic_slave));
    VMHIVE_CHECK(codec.object(self.ioapic));
    VMHIVE_CHECK(codec.object(self.pit));
    return codec.object(self.clock);
  }
  Result<void> check() const {
    if (pic_master.chip_id != KVM_IRQCHIP_PIC_MASTER || pic_slave.chip_id != KVM_IRQCHIP_PIC_SLAVE ||
        ioapic.chip_id != KVM_IRQCHIP_IOAPIC)
      return make_error("interrupt controllers out of order");
    return {};
  }
};

// The vCPU must be out of KVM_RUN with its last exit completed (PauseGate).
Result<VcpuState> capture_vcpu(const Vcpu& vcpu, const std::vector<uint32_t>& msr_indices);
// The vCPU must have its CPUID set already.
Result<void> apply_vcpu(const Vcpu& vcpu, const VcpuState& state);

Result<VmState> capture_vm(const Vm& vm);
// Before the vCPUs' state: the local APICs route through the IOAPIC and PIC.
Result<void> apply_vm(const Vm& vm, const VmState& state);

}  // namespace vmhive::kvm
