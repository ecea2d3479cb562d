#include "kvm/vcpu.h"

#include "common/errno_error.h"
#include "kvm/ioctl_numbers.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

namespace vmhive::kvm {
namespace {

Error ioctl_error(const char* what, uint32_t index) {
  return errno_error(std::string(what) + " on vCPU " + std::to_string(index) + " failed");
}

}  // namespace

Result<Vcpu> Vcpu::adopt(UniqueFd fd, uint32_t index, size_t mmap_size) {
  void* addr = ::mmap(nullptr, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (addr == MAP_FAILED) return ioctl_error("mmap of kvm_run", index);
  return Vcpu(std::move(fd), index, Mapping(addr, mmap_size));
}

Result<bool> Vcpu::run() const {
  if (::ioctl(fd_.get(), KVM_RUN, 0) == 0) return true;
  if (errno == EINTR || errno == EAGAIN) {
    run_state().immediate_exit = 0;
    return false;
  }
  return ioctl_error("KVM_RUN", index_);
}

Result<kvm_regs> Vcpu::get_regs() const {
  kvm_regs regs{};
  if (::ioctl(fd_.get(), KVM_GET_REGS, &regs) < 0) return ioctl_error("KVM_GET_REGS", index_);
  return regs;
}

Result<void> Vcpu::set_regs(const kvm_regs& regs) const {
  if (::ioctl(fd_.get(), KVM_SET_REGS, &regs) < 0) return ioctl_error("KVM_SET_REGS", index_);
  return {};
}

Result<kvm_sregs> Vcpu::get_sregs() const {
  kvm_sregs sregs{};
  if (::ioctl(fd_.get(), KVM_GET_SREGS, &sregs) < 0) return ioctl_error("KVM_GET_SREGS", index_);
  return sregs;
}

Result<kvm_sregs> Vcpu::get_sregs_for_update() const {
  constexpr uint32_t kMsrFsBase = 0xc0000100;
  constexpr uint32_t kMsrGsBase = 0xc0000101;
  kvm_sregs sregs = VMHIVE_TRY(get_sregs());
  const std::vector<uint64_t> bases = VMHIVE_TRY(get_msrs({kMsrFsBase, kMsrGsBase}));
  sregs.fs.base = bases[0];
  sregs.gs.base = bases[1];
  return sregs;
}

Result<void> Vcpu::set_sregs(const kvm_sregs& sregs) const {
  if (::ioctl(fd_.get(), KVM_SET_SREGS, &sregs) < 0) return ioctl_error("KVM_SET_SREGS", index_);
  return {};
}

Result<void> Vcpu::set_fpu(const kvm_fpu& fpu) const {
  if (::ioctl(fd_.get(), KVM_SET_FPU, &fpu) < 0) return ioctl_error("KVM_SET_FPU", index_);
  return {};
}

Result<void> Vcpu::set_msrs(const std::vector<MsrValue>& msrs) const {
  ioctls::MsrList list(static_cast<uint32_t>(msrs.size()));
  for (size_t i = 0; i < msrs.size(); ++i) {
    list.entries()[i] = kvm_msr_entry{};
    list.entries()[i].index = msrs[i].index;
    list.entries()[i].data = msrs[i].value;
  }
  int written = ::ioctl(fd_.get(), ioctls::kSetMsrs, list.data());
  if (written < 0) return ioctl_error("KVM_SET_MSRS", index_);
  if (static_cast<size_t>(written) != msrs.size()) {
    char index[16];
    std::snprintf(index, sizeof index, "0x%x", msrs[static_cast<size_t>(written)].index);
    return make_error("KVM_SET_MSRS on vCPU " + std::to_string(index_) + " refused MSR " + index);
  }
  return {};
}

Result<std::vector<uint64_t>> Vcpu::get_msrs(const std::vector<uint32_t>& indices) const {
  ioctls::MsrList list(static_cast<uint32_t>(indices.size()));
  for (size_t i = 0; i < indices.size(); ++i) {
    list.entries()[i] = kvm_msr_entry{};
    list.entries()[i].index = indices[i];
  }
  int read = ::ioctl(fd_.get(), ioctls::kGetMsrs, list.data());
  if (read < 0) return ioctl_error("KVM_GET_MSRS", index_);
  if (static_cast<size_t>(read) != indices.size()) {
    char index[16];
    std::snprintf(index, sizeof index, "0x%x", indices[static_cast<size_t>(read)]);
    return make_error("KVM_GET_MSRS on vCPU " + std::to_string(index_) + " refused MSR " + index);
  }
  std::vector<uint64_t> values(indices.size());
  for (size_t i = 0; i < indices.size(); ++i) values[i] = list.entries()[i].data;
  return values;
}

Result<void> Vcpu::set_guest_debug(const kvm_guest_debug& debug) const {
  if (::ioctl(fd_.get(), KVM_SET_GUEST_DEBUG, &debug) < 0) return ioctl_error("KVM_SET_GUEST_DEBUG", index_);
  return {};
}

Result<void> Vcpu::set_cpuid(const std::vector<kvm_cpuid_entry2>& entries) const {
  ioctls::CpuidList list(static_cast<uint32_t>(entries.size()));
  std::memcpy(list.entries(), entries.data(), entries.size() * sizeof(kvm_cpuid_entry2));
  if (::ioctl(fd_.get(), ioctls::kSetCpuid2, list.data()) < 0) return ioctl_error("KVM_SET_CPUID2", index_);
  return {};
}

Result<kvm_lapic_state> Vcpu::get_lapic() const {
  kvm_lapic_state lapic{};
  if (::ioctl(fd_.get(), KVM_GET_LAPIC, &lapic) < 0) return ioctl_error("KVM_GET_LAPIC", index_);
  return lapic;
}

Result<void> Vcpu::set_lapic(const kvm_lapic_state& lapic) const {
  if (::ioctl(fd_.get(), KVM_SET_LAPIC, &lapic) < 0) return ioctl_error("KVM_SET_LAPIC", index_);
  return {};
}

Result<kvm_fpu> Vcpu::get_fpu() const {
  kvm_fpu fpu{};
  if (::ioctl(fd_.get(), KVM_GET_FPU, &fpu) < 0) return ioctl_error("KVM_GET_FPU", index_);
  return fpu;
}

namespace {

// A pair of plain get/set ioctls on a vCPU fd.
template <class State>
Result<State> get_state(int fd, unsigned long request, const char* name, uint32_t index) {
  State state{};
  if (::ioctl(fd, request, &state) < 0) return ioctl_error(name, index);
  return state;
}

template <class State>
Result<void> set_state(int fd, unsigned long request, const State& state, const char* name, uint32_t index) {
  if (::ioctl(fd, request, &state) < 0) return ioctl_error(name, index);
  return {};
}

}  // namespace

static_assert(sizeof(XsaveArea) == ioctls::kXsaveSize);
Result<XsaveArea> Vcpu::get_xsave() const { return get_state<XsaveArea>(fd_.get(), ioctls::kGetXsave, "KVM_GET_XSAVE", index_); }
Result<void> Vcpu::set_xsave(const XsaveArea& xsave) const {
  return set_state(fd_.get(), ioctls::kSetXsave, xsave, "KVM_SET_XSAVE", index_);
}
Result<kvm_xcrs> Vcpu::get_xcrs() const { return get_state<kvm_xcrs>(fd_.get(), KVM_GET_XCRS, "KVM_GET_XCRS", index_); }
Result<void> Vcpu::set_xcrs(const kvm_xcrs& xcrs) const {
  return set_state(fd_.get(), KVM_SET_XCRS, xcrs, "KVM_SET_XCRS", index_);
}
Result<kvm_vcpu_events> Vcpu::get_events() const {
  return get_state<kvm_vcpu_events>(fd_.get(), KVM_GET_VCPU_EVENTS, "KVM_GET_VCPU_EVENTS", index_);
}
Result<void> Vcpu::set_events(const kvm_vcpu_events& events) const {
  return set_state(fd_.get(), KVM_SET_VCPU_EVENTS, events, "KVM_SET_VCPU_EVENTS", index_);
}
Result<kvm_mp_state> Vcpu::get_mp_state() const {
  return get_state<kvm_mp_state>(fd_.get(), KVM_GET_MP_STATE, "KVM_GET_MP_STATE", index_);
}
Result<void> Vcpu::set_mp_state(const kvm_mp_state& state) const {
  return set_state(fd_.get(), KVM_SET_MP_STATE, state, "KVM_SET_MP_STATE", index_);
}
Result<kvm_debugregs> Vcpu::get_debugregs() const {
  return get_state<kvm_debugregs>(fd_.get(), KVM_GET_DEBUGREGS, "KVM_GET_DEBUGREGS", index_);
}
Result<void> Vcpu::set_debugregs(const kvm_debugregs& debugregs) const {
  return set_state(fd_.get(), KVM_SET_DEBUGREGS, debugregs, "KVM_SET_DEBUGREGS", index_);
}

Result<std::vector<MsrValue>> Vcpu::get_present_msrs(const std::vector<uint32_t>& indices) const {
  std::vector<MsrValue> present;
  size_t next = 0;
  while (next < indices.size()) {
    const size_t count = indices.size() - next;
    ioctls::MsrList list(static_cast<uint32_t>(count));
    for (size_t i = 0; i < count; ++i) {
      list.entries()[i] = kvm_msr_entry{};
      list.entries()[i].index = indices[next + i];
    }
    int read = ::ioctl(fd_.get(), ioctls::kGetMsrs, list.data());
    if (read < 0) return ioctl_error("KVM_GET_MSRS", index_);
    for (int i = 0; i < read; ++i) present.push_back(MsrValue{list.entries()[i].index, list.entries()[i].data});
    next += static_cast<size_t>(read) + 1;  // KVM stops at the first MSR it refuses: skip that one
  }
  return present;
}

Result<void> Vcpu::inject_exception(uint8_t vector, std::optional<uint32_t> error_code) const {
  kvm_vcpu_events events{};
  if (::ioctl(fd_.get(), KVM_GET_VCPU_EVENTS, &events) < 0) return ioctl_error("KVM_GET_VCPU_EVENTS", index_);
  if (events.exception.injected || events.exception.pending) {
    return make_error("vCPU " + std::to_string(index_) + ": an exception is already queued");
  }
  events.exception.injected = 1;
  events.exception.nr = vector;
  events.exception.has_error_code = error_code.has_value() ? 1 : 0;
  events.exception.error_code = error_code.value_or(0);
  events.flags = 0;  // change nothing else (NMI, SIPI vector, shadow) that was read back
  if (::ioctl(fd_.get(), KVM_SET_VCPU_EVENTS, &events) < 0) return ioctl_error("KVM_SET_VCPU_EVENTS", index_);
  return {};
}

}  // namespace vmhive::kvm
