#include "vmm/interrupt_routes.h"
#include "common/errno_error.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace vmhive {
namespace {

constexpr uint32_t kIoapicPins = 24;
constexpr uint32_t kPicPins = 16;

kvm_irq_routing_entry irqchip_entry(uint32_t gsi, uint32_t chip, uint32_t pin) {
  kvm_irq_routing_entry entry{};
  entry.gsi = gsi;
  entry.type = KVM_IRQ_ROUTING_IRQCHIP;
  entry.u.irqchip.irqchip = chip;
  entry.u.irqchip.pin = pin;
  return entry;
}

}  // namespace

Result<uint32_t> InterruptRoutes::allocate(unsigned count) {
  std::lock_guard guard(lock_);
  const uint32_t first = next_gsi_;
  next_gsi_ += count;
  return first;
}

Result<void> InterruptRoutes::set_msi(uint32_t gsi, const pci::MsiMessage& message) {
  std::lock_guard guard(lock_);
  if (const auto found = msi_routes_.find(gsi); found != msi_routes_.end() && found->second == message) return {};
  msi_routes_[gsi] = message;
  std::vector<kvm_irq_routing_entry> table;
  // KVM's default routes (irq_comm.c): GSIs 0-15 reach the PIC and the
  // IOAPIC, 16-23 the IOAPIC.
  for (uint32_t gsi_pin = 0; gsi_pin < kPicPins; ++gsi_pin) {
    table.push_back(irqchip_entry(gsi_pin, gsi_pin < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE, gsi_pin % 8));
  }
  for (uint32_t gsi_pin = 0; gsi_pin < kIoapicPins; ++gsi_pin) {
    table.push_back(irqchip_entry(gsi_pin, KVM_IRQCHIP_IOAPIC, gsi_pin));
  }
  for (const auto& [msi_gsi, msi] : msi_routes_) {
    kvm_irq_routing_entry entry{};
    entry.gsi = msi_gsi;
    entry.type = KVM_IRQ_ROUTING_MSI;
    entry.u.msi.address_lo = static_cast<uint32_t>(msi.address);
    entry.u.msi.address_hi = static_cast<uint32_t>(msi.address >> 32);
    entry.u.msi.data = msi.data;
    table.push_back(entry);
  }
  return vm_.set_gsi_routing(table);
}

Result<std::unique_ptr<KvmMsiVectors>> KvmMsiVectors::create(InterruptRoutes& routes, const kvm::Vm& vm,
                                                             unsigned count) {
  const uint32_t first_gsi = VMHIVE_TRY(routes.allocate(count));
  std::vector<UniqueFd> eventfds;
  for (unsigned vector = 0; vector < count; ++vector) {
    UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!fd.valid()) return errno_error("eventfd for an MSI vector failed");
    VMHIVE_CHECK(vm.set_irqfd(fd.get(), first_gsi + vector, true));
    eventfds.push_back(std::move(fd));
  }
  return std::unique_ptr<KvmMsiVectors>(new KvmMsiVectors(routes, first_gsi, std::move(eventfds)));
}

void KvmMsiVectors::route(unsigned vector, const pci::MsiMessage& message) {
  if (vector >= eventfds_.size()) return;
  if (auto set = routes_.set_msi(first_gsi_ + vector, message); !set.ok()) {
    log_.write("routing MSI vector " + std::to_string(vector) + ": " + set.error().message);
  }
}

void KvmMsiVectors::signal(unsigned vector) {
  if (vector >= eventfds_.size()) return;
  const uint64_t one = 1;
  // Cannot fail short of a counter overflow, which would still mean "raised".
  (void)!::write(eventfds_[vector].get(), &one, sizeof one);
}

}  // namespace vmhive
