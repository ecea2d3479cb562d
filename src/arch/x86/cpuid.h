// The guest's CPUID: KVM's supported table, filtered by a CPU template and
// fixed up per vCPU (APIC id, topology, hypervisor signature).
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace vmhive::x86 {

enum class CpuidRegister { kEax, kEbx, kEcx, kEdx };

// Bits a template removes from one register of one leaf (and sub-leaf).
struct CpuidMask {
  uint32_t leaf;
  std::optional<uint32_t> subleaf;  // nullopt: every sub-leaf
  CpuidRegister reg;
  uint32_t clear_bits;
  const char* why;
};

struct CpuTemplate {
  std::string_view name;
  std::string_view description;
  std::vector<CpuidMask> masks;
  std::vector<uint32_t> hidden_leaves;  // leaves removed entirely (e.g. 0xd with XSAVE hidden)
  // Linux command-line options for what CPUID cannot hide on this backend.
  std::string_view linux_arguments = {};
};

// All templates, in a stable order (what `vmhive info` lists).
const std::vector<CpuTemplate>& cpu_templates();
Result<const CpuTemplate*> find_cpu_template(std::string_view name);

// Applies the template to a copy of KVM's supported CPUID.
std::vector<kvm_cpuid_entry2> apply_template(std::vector<kvm_cpuid_entry2> entries, const CpuTemplate& cpu_template);

// Per-vCPU fix-ups: APIC id in leaf 1, x2APIC topology in leaves 0xb/0x1f
// (one core per vCPU, one package), the hypervisor bit, and KVM's signature
// leaves so the guest finds kvmclock.
std::vector<kvm_cpuid_entry2> cpuid_for_vcpu(const std::vector<kvm_cpuid_entry2>& entries, uint32_t apic_id,
                                             uint32_t vcpu_count);

// Looks up one entry; nullptr when absent.
const kvm_cpuid_entry2* find_cpuid_entry(const std::vector<kvm_cpuid_entry2>& entries, uint32_t leaf,
                                         uint32_t subleaf = 0);

// Whether a guest whose CPUID is `wanted` (a snapshot's) can run on a host
// offering `supported`: every feature flag set in leaves 1, 7.0 and
// 0x80000001 must be offered. The error lists the leaf, register and bits
// this host lacks.
Result<void> check_cpuid_supported(const std::vector<kvm_cpuid_entry2>& wanted,
                                   const std::vector<kvm_cpuid_entry2>& supported);

}  // namespace vmhive::x86
