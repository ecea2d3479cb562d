#include "kvm/vm.h"

#include "common/errno_error.h"
#include "kvm/ioctl_numbers.h"

#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace vmhive::kvm {
namespace {

Error ioctl_error(const char* what) { return errno_error(std::string(what) + " failed"); }

}  // namespace

Result<Vm> Vm::create(const Kvm& kvm) {
  int fd;
  do {
    fd = ::ioctl(kvm.fd(), KVM_CREATE_VM, 0);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return ioctl_error("KVM_CREATE_VM");
  return Vm(kvm, UniqueFd(fd));
}

Result<void> Vm::map_memory(const GuestMemory& memory, std::span<const GuestRange> read_only) {
  for (uint32_t index = 0; index < slots_; ++index) {  // a size of 0 deletes a slot
    kvm_userspace_memory_region slot{};
    slot.slot = index;
    if (::ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &slot) < 0) return ioctl_error("KVM_SET_USER_MEMORY_REGION");
  }
  slots_ = 0;
  const auto add = [&](const GuestMemory::HostRegion& region, uint64_t start, uint64_t end, bool writable) -> Result<void> {
    if (end <= start) return {};
    kvm_userspace_memory_region slot{};
    slot.slot = slots_;
    slot.flags = writable ? 0 : KVM_MEM_READONLY;
    slot.guest_phys_addr = start;
    slot.memory_size = end - start;
    slot.userspace_addr = reinterpret_cast<uint64_t>(region.host + (start - region.guest_address));
    if (::ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &slot) < 0) return ioctl_error("KVM_SET_USER_MEMORY_REGION");
    ++slots_;
    return {};
  };
  std::vector<GuestRange> sorted(read_only.begin(), read_only.end());
  std::sort(sorted.begin(), sorted.end(), [](const GuestRange& a, const GuestRange& b) { return a.start < b.start; });
  for (const auto& region : memory.regions()) {
    uint64_t at = region.guest_address;
    const uint64_t region_end = region.guest_address + region.size;
    for (const GuestRange& range : sorted) {
      const uint64_t start = std::max(range.start, at), end = std::min(range.end(), region_end);
      if (end <= start) continue;
      VMHIVE_CHECK(add(region, at, start, true));
      VMHIVE_CHECK(add(region, start, end, false));
      at = end;
    }
    VMHIVE_CHECK(add(region, at, region_end, true));
  }
  return {};
}

Result<void> Vm::create_irqchip_and_pit() {
  if (::ioctl(fd_.get(), KVM_CREATE_IRQCHIP, 0) < 0) return ioctl_error("KVM_CREATE_IRQCHIP");
  kvm_pit_config pit{};
  pit.flags = KVM_PIT_SPEAKER_DUMMY;
  if (::ioctl(fd_.get(), KVM_CREATE_PIT2, &pit) < 0) return ioctl_error("KVM_CREATE_PIT2");
  return {};
}

Result<void> Vm::set_real_mode_helper_addresses(uint64_t tss_address, uint64_t identity_map_address) {
  if (::ioctl(fd_.get(), KVM_SET_IDENTITY_MAP_ADDR, &identity_map_address) < 0)
    return ioctl_error("KVM_SET_IDENTITY_MAP_ADDR");
  if (::ioctl(fd_.get(), KVM_SET_TSS_ADDR, tss_address) < 0) return ioctl_error("KVM_SET_TSS_ADDR");
  return {};
}

Result<void> Vm::set_irq_line(uint32_t irq, bool level) const {
  kvm_irq_level line{};
  line.irq = irq;
  line.level = level ? 1 : 0;
  if (::ioctl(fd_.get(), KVM_IRQ_LINE, &line) < 0) return ioctl_error("KVM_IRQ_LINE");
  return {};
}

Result<void> Vm::set_gsi_routing(std::span<const kvm_irq_routing_entry> entries) const {
  ioctls::KernelList<kvm_irq_routing_entry, ioctls::kIrqRoutingHeaderSize> table(
      static_cast<uint32_t>(entries.size()));
  std::copy(entries.begin(), entries.end(), table.entries());
  if (::ioctl(fd_.get(), ioctls::kSetGsiRouting, table.data()) < 0) return ioctl_error("KVM_SET_GSI_ROUTING");
  return {};
}

Result<void> Vm::set_irqfd(int fd, uint32_t gsi, bool assign) const {
  kvm_irqfd irqfd{};
  irqfd.fd = static_cast<uint32_t>(fd);
  irqfd.gsi = gsi;
  irqfd.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN;
  if (::ioctl(fd_.get(), KVM_IRQFD, &irqfd) < 0) return ioctl_error("KVM_IRQFD");
  return {};
}

Result<void> Vm::set_mmio_ioeventfd(int fd, uint64_t address, bool assign) const {
  kvm_ioeventfd event{};
  event.addr = address;
  event.len = 0;  // any width (KVM_CAP_IOEVENTFD_ANY_LENGTH)
  event.fd = fd;
  event.flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN;
  if (::ioctl(fd_.get(), KVM_IOEVENTFD, &event) < 0) return ioctl_error("KVM_IOEVENTFD");
  return {};
}

Result<void> Vm::trap_msr_write(uint32_t msr) {
  kvm_enable_cap cap{};
  cap.cap = KVM_CAP_X86_USER_SPACE_MSR;
  cap.args[0] = KVM_MSR_EXIT_REASON_FILTER;
  if (::ioctl(fd_.get(), KVM_ENABLE_CAP, &cap) < 0) return ioctl_error("KVM_ENABLE_CAP(X86_USER_SPACE_MSR)");
  uint8_t bitmap = 0;  // bit 0 clear: writes to `msr` are denied, so they exit
  kvm_msr_filter filter{};
  filter.flags = KVM_MSR_FILTER_DEFAULT_ALLOW;
  filter.ranges[0].flags = KVM_MSR_FILTER_WRITE;
  filter.ranges[0].nmsrs = 1;
  filter.ranges[0].base = msr;
  filter.ranges[0].bitmap = &bitmap;  // KVM copies it during the ioctl
  if (::ioctl(fd_.get(), KVM_X86_SET_MSR_FILTER, &filter) < 0) return ioctl_error("KVM_X86_SET_MSR_FILTER");
  return {};
}

Result<Vcpu> Vm::create_vcpu(uint32_t index) const {
  int fd = ::ioctl(fd_.get(), KVM_CREATE_VCPU, static_cast<unsigned long>(index));
  if (fd < 0) return ioctl_error("KVM_CREATE_VCPU");
  return Vcpu::adopt(UniqueFd(fd), index, kvm_->vcpu_mmap_size());
}

Result<kvm_irqchip> Vm::get_irqchip(uint32_t chip_id) const {
  kvm_irqchip chip{};
  chip.chip_id = chip_id;
  if (::ioctl(fd_.get(), KVM_GET_IRQCHIP, &chip) < 0) return ioctl_error("KVM_GET_IRQCHIP");
  return chip;
}

Result<void> Vm::set_irqchip(const kvm_irqchip& chip) const {
  if (::ioctl(fd_.get(), KVM_SET_IRQCHIP, &chip) < 0) return ioctl_error("KVM_SET_IRQCHIP");
  return {};
}

Result<kvm_pit_state2> Vm::get_pit() const {
  kvm_pit_state2 pit{};
  if (::ioctl(fd_.get(), KVM_GET_PIT2, &pit) < 0) return ioctl_error("KVM_GET_PIT2");
  return pit;
}

Result<void> Vm::set_pit(const kvm_pit_state2& pit) const {
  if (::ioctl(fd_.get(), KVM_SET_PIT2, &pit) < 0) return ioctl_error("KVM_SET_PIT2");
  return {};
}

Result<kvm_clock_data> Vm::get_clock() const {
  kvm_clock_data clock{};
  if (::ioctl(fd_.get(), KVM_GET_CLOCK, &clock) < 0) return ioctl_error("KVM_GET_CLOCK");
  return clock;
}

Result<void> Vm::set_clock(const kvm_clock_data& clock) const {
  if (::ioctl(fd_.get(), KVM_SET_CLOCK, &clock) < 0) return ioctl_error("KVM_SET_CLOCK");
  return {};
}

}  // namespace vmhive::kvm
