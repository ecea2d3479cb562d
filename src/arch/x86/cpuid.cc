#include "arch/x86/cpuid.h"

#include <cstdio>

#include <algorithm>
#include <bit>

namespace vmhive::x86 {
namespace {

constexpr uint32_t bit(unsigned n) { return 1u << n; }

// Features that KVM-PVM's instruction emulator (which runs a non-PVM guest's
// ring 0) cannot execute, or that lead the guest kernel into instructions it
// cannot execute. Measured on this project's PVM host; docs/cpu-templates.md.
std::vector<CpuidMask> pvm_masks() {
  using R = CpuidRegister;
  return {
      {1, std::nullopt, R::kEcx, bit(26) | bit(27), "XSAVE/OSXSAVE: the emulator fails on XRSTOR"},
      {1, std::nullopt, R::kEcx, bit(28) | bit(12) | bit(29), "AVX, FMA, F16C need XSAVE state"},
      {1, std::nullopt, R::kEcx, bit(13), "CMPXCHG16B is not emulated"},
      {1, std::nullopt, R::kEcx, bit(30), "RDRAND is not emulated (Linux uses it in early boot)"},
      {1, std::nullopt, R::kEcx, bit(3), "MONITOR/MWAIT"},
      {1, std::nullopt, R::kEcx, bit(5), "VMX: no nested virtualization under PVM"},
      {1, std::nullopt, R::kEcx, bit(17), "PCID: INVPCID/PCID flushes are not emulated"},
      {7, 0, R::kEbx, bit(5) | bit(16) | bit(17) | bit(21) | bit(26) | bit(27) | bit(28) | bit(30) | bit(31),
       "AVX2 and AVX-512 need XSAVE state"},
      {7, 0, R::kEbx, bit(0), "FSGSBASE instructions are not emulated"},
      {7, 0, R::kEbx, bit(10), "INVPCID is not emulated"},
      {7, 0, R::kEbx, bit(18), "RDSEED is not emulated"},
      {7, 0, R::kEbx, bit(4) | bit(11), "TSX (HLE, RTM)"},
      {7, 0, R::kEbx, bit(20), "SMAP: STAC/CLAC in every user copy"},
      {7, 0, R::kEcx, bit(1) | bit(6) | bit(9) | bit(10) | bit(11) | bit(12) | bit(14), "AVX-512 extensions, VAES"},
      {7, 0, R::kEcx, bit(3) | bit(4), "PKU/OSPKE: WRPKRU is not emulated"},
      {7, 0, R::kEcx, bit(5), "WAITPKG"},
      {7, 0, R::kEcx, bit(16), "LA57: five-level paging"},
      {7, 0, R::kEcx, bit(22), "RDPID is not emulated"},
      {7, 0, R::kEdx, bit(2) | bit(3) | bit(8) | bit(23) | bit(22) | bit(24) | bit(25), "AVX-512 and AMX"},
      {7, 1, R::kEax, bit(4) | bit(5), "AVX-VNNI, AVX512-BF16"},
      {0x80000001, std::nullopt, R::kEcx, bit(11) | bit(16), "XOP, FMA4 (AMD) need XSAVE state"},
      // KVM's paravirtual features that make hypercalls. The guest's hypercall
      // instruction (VMMCALL here) is not the one KVM expects, so KVM rewrites
      // it in the guest's read-only kernel text and the guest oopses (seen in
      // kvm_kick_cpu, a PV spinlock unlock).
      {0x40000001, std::nullopt, R::kEax, bit(7) | bit(11) | bit(13),
       "KVM PV_UNHALT, PV_SEND_IPI, PV_SCHED_YIELD: hypercalls KVM-PVM cannot take from a non-PVM guest"},
  };
}

std::vector<CpuTemplate> build_templates() {
  std::vector<CpuTemplate> templates;
  templates.push_back({"host", "everything this host's KVM supports (the default on VMX/SVM hosts)", {}, {}});
  templates.push_back({"pvm",
                       "host minus what KVM-PVM's emulator cannot run: XSAVE and its family, CMPXCHG16B, "
                       "RDRAND/RDSEED, FSGSBASE, PCID/INVPCID, SMAP, PKU, LA57 (the default on PVM hosts)",
                       pvm_masks(),
                       {0xd},
                       // In the guest's ring 0 KVM-PVM reports some CPUID bits from the host
                       // whatever the table says (measured: leaf 1 ECX FMA, POPCNT, XSAVE, AVX,
                       // F16C, RDRAND; leaf 7 SMAP), so Linux is told on its command line.
                       // vmhive still completes POPCNT and CLAC/STAC if a kernel uses them.
                       // The rest skips work that costs minutes when ring 0 is emulated
                       // (~4000x slower) and that a VM does not need; docs/pvm.md measures
                       // each: the clocksource, lockup and RCU stall watchdogs and the
                       // timer check misjudge a clock that slow, crypto self-tests, the tracefs event
                       // tree, and the kernel's BTF parse (paid by whichever initcall first
                       // registers BPF kfuncs; the guest parses it on first BPF use instead).
                       "noxsave clearcpuid=popcnt,smap,ssse3,sse4_1,sse4_2,aes,pclmulqdq,sha_ni "
                       "tsc=reliable no_timer_check nowatchdog rcupdate.rcu_cpu_stall_suppress=1 cryptomgr.notests "
                       "initcall_blacklist=ftrace_check_for_weak_functions,tracer_init_tracefs,trace_eval_init,"
                       "crypto_kdf108_init,blake2s_mod_init,init_encrypted,cubictcp_register,bpf_rstat_kfunc_init,"
                       "bpf_key_sig_kfuncs_init,kfunc_init,bpf_prog_test_run_init,bpf_tcp_ca_kfunc_init"});
  return templates;
}

uint32_t& register_of(kvm_cpuid_entry2& entry, CpuidRegister reg) {
  switch (reg) {
    case CpuidRegister::kEax: return entry.eax;
    case CpuidRegister::kEbx: return entry.ebx;
    case CpuidRegister::kEcx: return entry.ecx;
    case CpuidRegister::kEdx: break;
  }
  return entry.edx;
}

kvm_cpuid_entry2* find_mutable(std::vector<kvm_cpuid_entry2>& entries, uint32_t leaf, uint32_t subleaf) {
  for (auto& entry : entries) {
    if (entry.function != leaf) continue;
    bool indexed = (entry.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) != 0;
    if (!indexed || entry.index == subleaf) return &entry;
  }
  return nullptr;
}

kvm_cpuid_entry2& find_or_add(std::vector<kvm_cpuid_entry2>& entries, uint32_t leaf, uint32_t subleaf,
                              bool indexed) {
  if (auto* entry = find_mutable(entries, leaf, subleaf)) return *entry;
  kvm_cpuid_entry2 entry{};
  entry.function = leaf;
  entry.index = subleaf;
  entry.flags = indexed ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
  entries.push_back(entry);
  return entries.back();
}

void rewrite_topology_leaf(std::vector<kvm_cpuid_entry2>& entries, uint32_t leaf, uint32_t apic_id,
                           uint32_t vcpu_count) {
  // Intel SDM Vol. 2A, CPUID leaf 0BH: level 0 is SMT (one thread per core
  // here), level 1 is the core level; shift = bits of the x2APIC id below it.
  uint32_t core_shift = vcpu_count <= 1 ? 0 : std::bit_width(vcpu_count - 1);
  std::erase_if(entries, [leaf](const kvm_cpuid_entry2& e) { return e.function == leaf; });
  for (uint32_t level = 0; level < 3; ++level) {
    kvm_cpuid_entry2 entry{};
    entry.function = leaf;
    entry.index = level;
    entry.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
    entry.edx = apic_id;
    if (level == 0) {
      entry.eax = 0;
      entry.ebx = 1;
      entry.ecx = (1u << 8) | level;
    } else if (level == 1) {
      entry.eax = core_shift;
      entry.ebx = vcpu_count;
      entry.ecx = (2u << 8) | level;
    } else {
      entry.ecx = level;  // type 0: no more levels
    }
    entries.push_back(entry);
  }
}

}  // namespace

const std::vector<CpuTemplate>& cpu_templates() {
  static const std::vector<CpuTemplate> templates = build_templates();
  return templates;
}

Result<const CpuTemplate*> find_cpu_template(std::string_view name) {
  std::string known;
  for (const auto& candidate : cpu_templates()) {
    if (candidate.name == name) return &candidate;
    known += (known.empty() ? "" : ", ") + std::string(candidate.name);
  }
  return make_error("unknown CPU template '" + std::string(name) + "' (known: " + known + ")");
}

std::vector<kvm_cpuid_entry2> apply_template(std::vector<kvm_cpuid_entry2> entries, const CpuTemplate& cpu_template) {
  std::erase_if(entries, [&](const kvm_cpuid_entry2& entry) {
    return std::find(cpu_template.hidden_leaves.begin(), cpu_template.hidden_leaves.end(), entry.function) !=
           cpu_template.hidden_leaves.end();
  });
  for (auto& entry : entries) {
    for (const auto& mask : cpu_template.masks) {
      if (entry.function != mask.leaf) continue;
      if (mask.subleaf && entry.index != *mask.subleaf) continue;
      register_of(entry, mask.reg) &= ~mask.clear_bits;
    }
  }
  return entries;
}

std::vector<kvm_cpuid_entry2> cpuid_for_vcpu(const std::vector<kvm_cpuid_entry2>& base, uint32_t apic_id,
                                             uint32_t vcpu_count) {
  std::vector<kvm_cpuid_entry2> entries = base;
  if (auto* leaf1 = find_mutable(entries, 1, 0)) {
    leaf1->ebx = (leaf1->ebx & 0x0000ffffu) | (apic_id << 24) | ((vcpu_count & 0xffu) << 16);
    leaf1->ecx |= bit(31);  // a hypervisor is present
    if (vcpu_count > 1) leaf1->edx |= bit(28);  // HTT: the count in EBX[23:16] is valid
  }
  // Leaf 4 (deterministic cache parameters): cores per package - 1 in EAX[31:26],
  // and every cache private to its core.
  for (auto& entry : entries) {
    if (entry.function != 4) continue;
    entry.eax = (entry.eax & 0x00003fffu) | (((vcpu_count - 1) & 0x3fu) << 26);
  }
  uint32_t max_leaf = 0;
  if (const auto* leaf0 = find_cpuid_entry(entries, 0)) max_leaf = leaf0->eax;
  if (max_leaf >= 0xb) rewrite_topology_leaf(entries, 0xb, apic_id, vcpu_count);
  if (max_leaf >= 0x1f) rewrite_topology_leaf(entries, 0x1f, apic_id, vcpu_count);
  if (auto* ext8 = find_mutable(entries, 0x80000008, 0)) ext8->ecx = (ext8->ecx & ~0xffu) | ((vcpu_count - 1) & 0xffu);

  // KVM's signature leaf (Documentation/virt/kvm/x86/cpuid.rst): "KVMKVMKVM\0\0\0".
  auto& signature = find_or_add(entries, 0x40000000, 0, false);
  signature.eax = std::max(signature.eax, 0x40000001u);
  signature.ebx = 0x4b4d564b;  // "KVMK"
  signature.ecx = 0x564b4d56;  // "VMKV"
  signature.edx = 0x0000004d;  // "M\0\0\0"
  find_or_add(entries, 0x40000001, 0, false);
  return entries;
}

const kvm_cpuid_entry2* find_cpuid_entry(const std::vector<kvm_cpuid_entry2>& entries, uint32_t leaf,
                                         uint32_t subleaf) {
  return find_mutable(const_cast<std::vector<kvm_cpuid_entry2>&>(entries), leaf, subleaf);
}

Result<void> check_cpuid_supported(const std::vector<kvm_cpuid_entry2>& wanted,
                                   const std::vector<kvm_cpuid_entry2>& supported) {
  struct FeatureWord {
    uint32_t leaf;
    uint32_t subleaf;
    const char* register_name;
    uint32_t kvm_cpuid_entry2::*field;
    uint32_t ignored;  // bits the OS or KVM sets at run time, not host features
  };
  static constexpr uint32_t kOsxsave = 1u << 27, kHypervisor = 1u << 31, kOspke = 1u << 4;
  const FeatureWord words[] = {
      {1, 0, "ecx", &kvm_cpuid_entry2::ecx, kOsxsave | kHypervisor},
      {1, 0, "edx", &kvm_cpuid_entry2::edx, 0},
      {7, 0, "ebx", &kvm_cpuid_entry2::ebx, 0},
      {7, 0, "ecx", &kvm_cpuid_entry2::ecx, kOspke},
      {7, 0, "edx", &kvm_cpuid_entry2::edx, 0},
      {0x80000001, 0, "ecx", &kvm_cpuid_entry2::ecx, 0},
      {0x80000001, 0, "edx", &kvm_cpuid_entry2::edx, 0},
  };
  std::string missing;
  for (const FeatureWord& word : words) {
    const kvm_cpuid_entry2* want = find_cpuid_entry(wanted, word.leaf, word.subleaf);
    if (want == nullptr) continue;
    const kvm_cpuid_entry2* have = find_cpuid_entry(supported, word.leaf, word.subleaf);
    const uint32_t offered = have == nullptr ? 0 : have->*word.field;
    const uint32_t lacking = (want->*word.field) & ~offered & ~word.ignored;
    if (lacking == 0) continue;
    char text[96];
    std::snprintf(text, sizeof text, "%sleaf 0x%x.%u %s bits 0x%08x", missing.empty() ? "" : "; ", word.leaf,
                  word.subleaf, word.register_name, lacking);
    missing += text;
  }
  if (!missing.empty()) return make_error("the snapshot needs CPU features this host lacks: " + missing);
  return {};
}

}  // namespace vmhive::x86
