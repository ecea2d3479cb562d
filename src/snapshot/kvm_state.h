// Reading a paused VM's KVM state into snapshot values and writing it back
// into a freshly created VM (the only snapshot code that talks to KVM).
#pragma once

#include <cstdint>
#include <vector>

#include "common/result.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"
#include "snapshot/machine_state.h"

namespace vmhive::snapshot {

// The vCPU must be out of KVM_RUN with its last exit completed (PauseGate).
Result<VcpuState> capture_vcpu(const kvm::Vcpu& vcpu, const std::vector<uint32_t>& msr_indices);
// The vCPU must have its CPUID set already.
Result<void> apply_vcpu(const kvm::Vcpu& vcpu, const VcpuState& state);

Result<VmState> capture_vm(const kvm::Vm& vm);
// Before the vCPUs' state: the local APICs route through the IOAPIC and PIC.
Result<void> apply_vm(const kvm::Vm& vm, const VmState& state);

}  // namespace vmhive::snapshot
