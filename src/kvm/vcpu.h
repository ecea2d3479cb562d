// One KVM vCPU: its run structure and register state.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "common/mapping.h"
#include "common/result.h"
#include "common/unique_fd.h"

namespace vmhive::kvm {

// KVM_GET_XSAVE's 4 KiB area (struct kvm_xsave ends in a flexible array that
// C++ containers cannot hold).
struct XsaveArea {
  uint32_t region[1024];
};

struct MsrValue {
  uint32_t index;
  uint64_t value;
};

class Vcpu {
 public:
  static Result<Vcpu> adopt(UniqueFd fd, uint32_t index, size_t mmap_size);

  uint32_t index() const { return index_; }
  kvm_run& run_state() const { return *reinterpret_cast<kvm_run*>(run_.data()); }

  // KVM_RUN once. Returns false (not an error) when interrupted by a signal
  // or by immediate_exit, so the caller can look at why it was kicked.
  Result<bool> run() const;
  // Makes the next (or current, once kicked by a signal) KVM_RUN return.
  void request_immediate_exit() const { run_state().immediate_exit = 1; }

  Result<kvm_regs> get_regs() const;
  Result<void> set_regs(const kvm_regs& regs) const;
  Result<kvm_sregs> get_sregs() const;
  Result<void> set_sregs(const kvm_sregs& sregs) const;
  // KVM_GET_SREGS for a read-modify-write through set_sregs(): the FS and GS
  // bases are taken from KVM_GET_MSRS instead. KVM-PVM answers KVM_GET_SREGS
  // of a non-PVM guest from a copy of the segments that can be older than
  // the bases in use (its MSR reads take them from the hardware first), and
  // writing that copy back lost a user process's TLS pointer: the process
  // faulted at its first %fs access (docs/pvm.md).
  Result<kvm_sregs> get_sregs_for_update() const;
  Result<kvm_fpu> get_fpu() const;
  Result<void> set_fpu(const kvm_fpu& fpu) const;
  Result<void> set_msrs(const std::vector<MsrValue>& msrs) const;
  // Values of the MSRs `indices`, in that order; fails if KVM refuses one.
  Result<std::vector<uint64_t>> get_msrs(const std::vector<uint32_t>& indices) const;
  // KVM_SET_GUEST_DEBUG: hardware breakpoints and single-stepping that exit
  // to vmhive (KVM_EXIT_DEBUG) rather than reaching the guest.
  Result<void> set_guest_debug(const kvm_guest_debug& debug) const;
  Result<void> set_cpuid(const std::vector<kvm_cpuid_entry2>& entries) const;
  Result<kvm_lapic_state> get_lapic() const;
  Result<void> set_lapic(const kvm_lapic_state& lapic) const;
  // The rest of a vCPU's state, for snapshots (docs/snapshots.md).
  Result<XsaveArea> get_xsave() const;
  Result<void> set_xsave(const XsaveArea& xsave) const;
  Result<kvm_xcrs> get_xcrs() const;
  Result<void> set_xcrs(const kvm_xcrs& xcrs) const;
  Result<kvm_vcpu_events> get_events() const;
  Result<void> set_events(const kvm_vcpu_events& events) const;
  Result<kvm_mp_state> get_mp_state() const;
  Result<void> set_mp_state(const kvm_mp_state& state) const;
  Result<kvm_debugregs> get_debugregs() const;
  Result<void> set_debugregs(const kvm_debugregs& debugregs) const;
  // The MSRs among `indices` that KVM will read for this vCPU, with their
  // values: KVM lists some MSRs that a given CPUID makes absent, and those are
  // left out rather than failing the whole read.
  Result<std::vector<MsrValue>> get_present_msrs(const std::vector<uint32_t>& indices) const;

  // Makes the vCPU take exception `vector` (with an error code if given)
  // when it next runs, as if its current instruction had raised it.
  Result<void> inject_exception(uint8_t vector, std::optional<uint32_t> error_code = std::nullopt) const;

 private:
  Vcpu(UniqueFd fd, uint32_t index, Mapping run) : fd_(std::move(fd)), index_(index), run_(std::move(run)) {}

  UniqueFd fd_;
  uint32_t index_;
  Mapping run_;
};

}  // namespace vmhive::kvm
