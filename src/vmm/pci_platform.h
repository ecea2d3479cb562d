// The PCI side of a machine: bus 0 with its host bridge, both configuration
// mechanisms, the virtio devices the config asks for, their MSI-X vectors in
// KVM and doorbells (ioeventfds) served by the device thread.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "common/rate_limited_log.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "devices/mmio_bus.h"
#include "devices/pci/config_access.h"
#include "devices/pci/host_bridge.h"
#include "devices/pci/pci_bus.h"
#include "devices/virtio/block/disk_image.h"
#include "devices/virtio/device_persistence.h"
#include "devices/virtio/pci_transport.h"
#include "devices/virtio/virtio_device.h"
#include "kvm/vm.h"
#include "devices/virtio/function_state.h"
#include "memory/guest_memory.h"
#include "snapshot/snapshot_dir.h"
#include "vmm/device_loop.h"
#include "vmm/interrupt_routes.h"
#include "vmm/legacy_platform.h"
#include "config/vm_config.h"

namespace vmhive {

struct PciDevicesConfig {
  bool entropy = false;  // virtio-rng
  std::vector<virtio::DiskSpec> disks;
  std::vector<NetSpec> nets;
  std::chrono::microseconds poll_window{0};  // the device thread's busy-poll window
};

class PciPlatform {
 public:
  static Result<std::unique_ptr<PciPlatform>> create(const kvm::Vm& vm, const GuestMemory& memory, MmioBus& mmio,
                                                     LegacyPlatform& legacy, const PciDevicesConfig& config);
  PciPlatform(const PciPlatform&) = delete;
  PciPlatform& operator=(const PciPlatform&) = delete;

  // A platform with the devices `functions` describe, in their slots, each
  // built again by its kind (devices/virtio/device_kinds.h) from its saved
  // state with the host resources `context` gives (disk overlays, taps), and
  // its transport put back as the snapshot holds it.
  static Result<std::unique_ptr<PciPlatform>> restore(const kvm::Vm& vm, const GuestMemory& memory, MmioBus& mmio,
                                                      LegacyPlatform& legacy,
                                                      const std::vector<virtio::FunctionState>& functions,
                                                      virtio::DeviceRestoreContext& context,
                                                      std::chrono::microseconds poll_window);

  // Starts the device thread; call before the vCPUs run.
  Result<void> start(const std::function<Result<void>()>& confine = {}) { return loop_->start(confine); }

  // Snapshots: pause() parks the device thread (no request in flight, no
  // backend touched); capture() then has every device save itself into
  // `dir` (a disk freezes its content there); resume() lets the thread go on.
  Result<void> pause() { return loop_->pause(); }
  void resume() { loop_->resume(); }
  Result<std::vector<virtio::FunctionState>> capture(const snapshot::SnapshotDir& dir);

  // What each virtio device has done, in bus order; `index` counts devices
  // of one type (the second disk is block 1).
  struct DeviceTrafficReport {
    virtio::DeviceType type;
    unsigned index = 0;
    virtio::DeviceTraffic traffic;
  };
  std::vector<DeviceTrafficReport> traffic() const;
  // Device `device` (in bus order, as traffic() lists them) counts into `counters` from now on.
  void count_into(size_t device, virtio::TrafficCounters* counters) { functions_.at(device)->model->count_into(counters); }

 private:
  // One queue doorbell per eventfd, moved with the BAR through KVM_IOEVENTFD.
  class Doorbells : public virtio::NotifyRegistrar {
   public:
    Doorbells(const kvm::Vm& vm, std::vector<UniqueFd> eventfds) : vm_(vm), eventfds_(std::move(eventfds)),
                                                                   addresses_(eventfds_.size()) {}
    void set_queue_notify_address(unsigned queue, std::optional<uint64_t> address) override;
    int fd(unsigned queue) const { return eventfds_[queue].get(); }
    unsigned count() const { return static_cast<unsigned>(eventfds_.size()); }

   private:
    const kvm::Vm& vm_;
    std::vector<UniqueFd> eventfds_;
    std::vector<std::optional<uint64_t>> addresses_;
    RateLimitedLog log_;  // the guest moves BARs as often as it likes
  };

  // A virtio device with everything that serves it.
  struct VirtioFunction {
    std::unique_ptr<virtio::VirtioDevice> model;
    std::unique_ptr<KvmMsiVectors> vectors;
    std::unique_ptr<Doorbells> doorbells;
    std::unique_ptr<virtio::PciTransport> transport;
    uint8_t slot = 0;
  };

  PciPlatform(const kvm::Vm& vm, const GuestMemory& memory, MmioBus& mmio);  // BARs go on `mmio`
  // Puts `model` on the bus (in `slot`, or the next free one) with its
  // transport, MSI-X vectors, doorbells and backend watch.
  Result<VirtioFunction*> add_virtio(std::unique_ptr<virtio::VirtioDevice> model,
                                     std::optional<uint8_t> slot = std::nullopt);
  static Result<std::unique_ptr<PciPlatform>> make(const kvm::Vm& vm, const GuestMemory& memory, MmioBus& mmio,
                                                   LegacyPlatform& legacy, std::chrono::microseconds poll_window);

  const kvm::Vm& vm_;
  const GuestMemory& memory_;
  InterruptRoutes routes_;
  pci::PciBus bus_;
  pci::HostBridge host_bridge_;
  pci::ConfigPorts config_ports_;
  pci::EcamWindow ecam_;
  std::vector<std::unique_ptr<VirtioFunction>> functions_;
  std::unique_ptr<DeviceLoop> loop_;  // declared last: stopped before the devices it calls go away
};

}  // namespace vmhive
