// The VM's interrupt routing table and the MSI vectors devices raise through
// it. KVM_SET_GSI_ROUTING replaces the whole table, so this one object keeps
// it: the in-kernel PIC and IOAPIC pins exactly as KVM routes them by default
// (GSIs 0-23), then one GSI per MSI-X vector, each with an irqfd so a device
// thread raises its interrupt with a single eventfd write.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "common/rate_limited_log.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "devices/pci/msix.h"
#include "kvm/vm.h"

namespace vmhive {

class InterruptRoutes {
 public:
  explicit InterruptRoutes(const kvm::Vm& vm) : vm_(vm) {}

  // `count` consecutive GSIs for MSI vectors; returns the first.
  Result<uint32_t> allocate(unsigned count);
  // Points `gsi` at an MSI message and installs the table.
  Result<void> set_msi(uint32_t gsi, const pci::MsiMessage& message);

 private:
  static constexpr uint32_t kFirstMsiGsi = 24;  // after the IOAPIC's 24 pins

  const kvm::Vm& vm_;
  std::mutex lock_;
  uint32_t next_gsi_ = kFirstMsiGsi;
  std::map<uint32_t, pci::MsiMessage> msi_routes_;
};

// One device's MSI-X vectors in KVM: an eventfd and a GSI each.
class KvmMsiVectors : public pci::MsiSink {
 public:
  static Result<std::unique_ptr<KvmMsiVectors>> create(InterruptRoutes& routes, const kvm::Vm& vm, unsigned count);

  void route(unsigned vector, const pci::MsiMessage& message) override;
  void signal(unsigned vector) override;

 private:
  KvmMsiVectors(InterruptRoutes& routes, uint32_t first_gsi, std::vector<UniqueFd> eventfds)
      : routes_(routes), first_gsi_(first_gsi), eventfds_(std::move(eventfds)) {}

  InterruptRoutes& routes_;
  uint32_t first_gsi_;
  std::vector<UniqueFd> eventfds_;
  RateLimitedLog log_;  // the guest programs its vectors as often as it likes
};

}  // namespace vmhive
