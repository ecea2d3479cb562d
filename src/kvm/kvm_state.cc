#include "kvm/kvm_state.h"

namespace vmhive::kvm {

Result<VcpuState> capture_vcpu(const Vcpu& vcpu, const std::vector<uint32_t>& msr_indices) {
  VcpuState state;
  state.regs = VMHIVE_TRY(vcpu.get_regs());
  state.sregs = VMHIVE_TRY(vcpu.get_sregs());
  state.xsave = VMHIVE_TRY(vcpu.get_xsave());
  state.xcrs = VMHIVE_TRY(vcpu.get_xcrs());
  state.events = VMHIVE_TRY(vcpu.get_events());
  state.mp_state = VMHIVE_TRY(vcpu.get_mp_state());
  state.debugregs = VMHIVE_TRY(vcpu.get_debugregs());
  state.lapic = VMHIVE_TRY(vcpu.get_lapic());
  state.msrs = VMHIVE_TRY(vcpu.get_present_msrs(msr_indices));
  return state;
}

// The order follows what KVM checks on each set: the MP state before the
// registers (it may reset them), special registers before XSAVE and the
// XCRs (CR4.OSXSAVE), the local APIC before the MSRs (the TSC deadline
// timer and APIC base), and the pending events last, on the final state.
Result<void> apply_vcpu(const Vcpu& vcpu, const VcpuState& state) {
  VMHIVE_CHECK(vcpu.set_mp_state(state.mp_state));
  VMHIVE_CHECK(vcpu.set_regs(state.regs));
  VMHIVE_CHECK(vcpu.set_sregs(state.sregs));
  VMHIVE_CHECK(vcpu.set_xsave(state.xsave));
  VMHIVE_CHECK(vcpu.set_xcrs(state.xcrs));
  VMHIVE_CHECK(vcpu.set_debugregs(state.debugregs));
  VMHIVE_CHECK(vcpu.set_lapic(state.lapic));
  VMHIVE_CHECK(vcpu.set_msrs(state.msrs));
  kvm_vcpu_events events = state.events;
  // Restore the NMI, SIPI and interrupt-shadow fields along with the rest.
  events.flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR | KVM_VCPUEVENT_VALID_SHADOW |
                 (state.events.flags & KVM_VCPUEVENT_VALID_SMM);
  VMHIVE_CHECK(vcpu.set_events(events));
  return {};
}

Result<VmState> capture_vm(const Vm& vm) {
  VmState state;
  state.pic_master = VMHIVE_TRY(vm.get_irqchip(KVM_IRQCHIP_PIC_MASTER));
  state.pic_slave = VMHIVE_TRY(vm.get_irqchip(KVM_IRQCHIP_PIC_SLAVE));
  state.ioapic = VMHIVE_TRY(vm.get_irqchip(KVM_IRQCHIP_IOAPIC));
  state.pit = VMHIVE_TRY(vm.get_pit());
  state.clock = VMHIVE_TRY(vm.get_clock());
  return state;
}

Result<void> apply_vm(const Vm& vm, const VmState& state) {
  VMHIVE_CHECK(vm.set_irqchip(state.pic_master));
  VMHIVE_CHECK(vm.set_irqchip(state.pic_slave));
  VMHIVE_CHECK(vm.set_irqchip(state.ioapic));
  VMHIVE_CHECK(vm.set_pit(state.pit));
  // The guest's clock goes on from where it stopped, plus the real time that
  // passed since the snapshot when KVM can tell (KVM_CLOCK_REALTIME): the
  // guest's wall clock stays right across a restore.
  kvm_clock_data clock{};
  clock.clock = state.clock.clock;
  if (state.clock.flags & KVM_CLOCK_REALTIME) {
    clock.flags = KVM_CLOCK_REALTIME;
    clock.realtime = state.clock.realtime;
  }
  VMHIVE_CHECK(vm.set_clock(clock));
  return {};
}

}  // namespace vmhive::kvm
