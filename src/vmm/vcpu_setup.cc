#include "vmm/vcpu_setup.h"

#include "arch/x86/cpuid.h"

namespace vmhive {

Result<void> set_up_vcpu(const kvm::Vcpu& vcpu, const VcpuSetup& setup) {
  const uint32_t apic_id = vcpu.index();
  // CPUID first: KVM checks some MSR writes against the CPUID the vCPU has.
  VMHIVE_CHECK(vcpu.set_cpuid(x86::cpuid_for_vcpu(*setup.cpuid, apic_id, setup.vcpu_count)));
  VMHIVE_CHECK(vcpu.set_msrs(x86::initial_msrs()));
  VMHIVE_CHECK(vcpu.set_fpu(x86::initial_fpu()));
  kvm_lapic_state lapic = VMHIVE_TRY(vcpu.get_lapic());
  x86::set_virtual_wire_lints(lapic);
  VMHIVE_CHECK(vcpu.set_lapic(lapic));

  if (vcpu.index() != 0) return {};
  kvm_sregs sregs = VMHIVE_TRY(vcpu.get_sregs());
  VMHIVE_CHECK(vcpu.set_sregs(x86::entry_sregs(sregs, setup.boot_entry.long_mode)));
  VMHIVE_CHECK(vcpu.set_regs(x86::entry_regs(setup.boot_entry)));
  return {};
}

}  // namespace vmhive
