// One KVM virtual machine: memory slots, the in-kernel interrupt controllers
// and timer, interrupt lines, and vCPU creation.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>

#include "common/result.h"
#include "common/unique_fd.h"
#include "kvm/kvm.h"
#include "kvm/vcpu.h"
#include "memory/guest_memory.h"
#include "memory/guest_range.h"

namespace vmhive::kvm {

class Vm {
 public:
  static Result<Vm> create(const Kvm& kvm);

  // Registers every RAM region of `memory` as KVM memory slots; the parts
  // inside `read_only` (page-aligned) get slots of their own that the guest
  // can read and execute but not write: a write exits as MMIO (KVM_MEM_READONLY).
  // Called again, it replaces the slots it made.
  Result<void> map_memory(const GuestMemory& memory, std::span<const GuestRange> read_only = {});
  // In-kernel PIC + IOAPIC + local APICs, and the PIT (with the port 0x61
  // speaker bits answered in the kernel, as Linux's calibration polls them).
  Result<void> create_irqchip_and_pit();
  // Addresses KVM uses on VMX for real-mode emulation; placed in the PCI hole.
  Result<void> set_real_mode_helper_addresses(uint64_t tss_address, uint64_t identity_map_address);
  // Drives an IRQ line of the in-kernel PIC/IOAPIC.
  Result<void> set_irq_line(uint32_t irq, bool level) const;

  // Replaces the VM's whole interrupt routing table (KVM_SET_GSI_ROUTING):
  // the in-kernel PIC/IOAPIC pins must be part of it.
  Result<void> set_gsi_routing(std::span<const kvm_irq_routing_entry> entries) const;
  // A write to eventfd `fd` raises `gsi` (KVM_IRQFD), or no longer does.
  Result<void> set_irqfd(int fd, uint32_t gsi, bool assign) const;
  // A guest write of any width to `address` signals eventfd `fd` inside KVM
  // instead of exiting to user space (KVM_IOEVENTFD), or no longer does.
  Result<void> set_mmio_ioeventfd(int fd, uint64_t address, bool assign) const;

  // Guest writes to `msr` exit to vmhive (KVM_EXIT_X86_WRMSR) instead of
  // reaching KVM; vmhive then writes the value itself with KVM_SET_MSRS.
  Result<void> trap_msr_write(uint32_t msr);

  Result<Vcpu> create_vcpu(uint32_t index) const;

  // In-kernel device state, for snapshots: PIC master (0), PIC slave (1),
  // IOAPIC (2); the PIT; the kvmclock base.
  Result<kvm_irqchip> get_irqchip(uint32_t chip_id) const;
  Result<void> set_irqchip(const kvm_irqchip& chip) const;
  Result<kvm_pit_state2> get_pit() const;
  Result<void> set_pit(const kvm_pit_state2& pit) const;
  Result<kvm_clock_data> get_clock() const;
  Result<void> set_clock(const kvm_clock_data& clock) const;

  int fd() const { return fd_.get(); }

 private:
  Vm(const Kvm& kvm, UniqueFd fd) : kvm_(&kvm), fd_(std::move(fd)) {}

  const Kvm* kvm_;
  UniqueFd fd_;
  uint32_t slots_ = 0;  // slots 0 to slots_ - 1 are ours
};

}  // namespace vmhive::kvm
