// Puts a freshly created vCPU into the state a guest expects at its first
// instruction: CPUID, MSRs, FPU and local APIC for every vCPU, and for the
// bootstrap processor the registers of the kernel's entry point. Secondary
// vCPUs wait (KVM's MP state) for the guest's INIT/SIPI.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <vector>

#include "arch/x86/cpu_boot_state.h"
#include "common/result.h"
#include "kvm/vcpu.h"

namespace vmhive {

struct VcpuSetup {
  const std::vector<kvm_cpuid_entry2>* cpuid;  // after the CPU template, before per-vCPU fix-ups
  uint32_t vcpu_count;
  x86::CpuEntry boot_entry;  // used for vCPU 0 only
};

Result<void> set_up_vcpu(const kvm::Vcpu& vcpu, const VcpuSetup& setup);

}  // namespace vmhive
