// virtio over PCI, the modern interface (virtio 1.2 §4.1): one memory BAR
// holding the common configuration, ISR status, device configuration and
// notification areas plus the MSI-X table and PBA, each announced by a
// vendor-specific capability. The transport runs the status state machine
// (§3.1), feature negotiation and queue set-up, turns the driver's queue
// registers into checked Virtqueues at DRIVER_OK, and hands notifications to
// the device model. A malformed ring or register value never stops the VMM:
// the device sets DEVICE_NEEDS_RESET and ignores its queues until reset.
//
// Not offered: the PCI configuration access capability (VIRTIO_PCI_CAP_PCI_CFG),
// legacy (0.9) registers and INTx; every vector is MSI-X.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/rate_limited_log.h"
#include "devices/pci/msix.h"
#include "devices/pci/pci_device.h"
#include "devices/virtio/virtio_device.h"
#include "memory/guest_memory.h"

namespace vmhive::virtio {

// Offsets inside BAR 0.
inline constexpr uint64_t kCommonConfigOffset = 0x0000;
inline constexpr uint64_t kIsrOffset = 0x1000;
inline constexpr uint64_t kDeviceConfigOffset = 0x2000;
inline constexpr uint64_t kNotifyOffset = 0x3000;
inline constexpr uint32_t kNotifyMultiplier = 4;
inline constexpr uint64_t kMsixTableOffset = 0x4000;
inline constexpr uint64_t kMsixPbaOffset = 0x5000;
inline constexpr uint64_t kBarSize = 0x8000;
inline constexpr uint16_t kNoVector = 0xffff;

// Where guest writes to a queue's notification address go when they do not
// exit to user space (KVM ioeventfds in a VM). Tests may pass none.
class NotifyRegistrar {
 public:
  virtual ~NotifyRegistrar() = default;
  // Queue `queue`'s doorbell is now at `address` (BAR moved), or nowhere.
  virtual void set_queue_notify_address(unsigned queue, std::optional<uint64_t> address) = 0;
};

class PciTransport : public pci::PciDevice {
 public:
  PciTransport(VirtioDevice& device, const GuestMemory& memory, pci::MsiSink& interrupts,
               NotifyRegistrar* notify_registrar = nullptr);

  // pci::PciDevice
  pci::ConfigSpace& config() override { return config_; }
  void config_written(uint16_t offset, size_t length) override;
  void bar_read(unsigned bar, uint64_t offset, std::span<uint8_t> data) override;
  void bar_write(unsigned bar, uint64_t offset, std::span<const uint8_t> data) override;
  void bar_mapped(unsigned bar, std::optional<uint64_t> address) override;

  // The driver notified queue `index` (through an ioeventfd, or a BAR write).
  void notify_queue(unsigned index);
  // A backend has data for queue `index` (a tap became readable): serve it as
  // if the driver had notified.
  void backend_ready(unsigned index) { notify_queue(index); }

  // Polling (the device thread's busy window after activity): serves every
  // queue that has requests, with notifications off so the driver need not
  // ring; returns whether there was any. stop_polling() turns notifications
  // back on and serves what came in meanwhile, before the thread sleeps.
  bool poll_queues();
  void stop_polling();

  // Snapshots: everything the driver programmed and the device's ring
  // positions. Taken and restored while the device thread is paused.
  struct QueueState {
    uint16_t size = 0;
    uint16_t vector = kNoVector;
    bool enabled = false;
    bool started = false;  // a Virtqueue runs on it (DRIVER_OK, no failure)
    VirtqueueState rings;  // addresses and the device's indices

    template <class Codec, class Self>
    static Result<void> fields(Codec& codec, Self& self) {
      VMHIVE_CHECK(codec.field(self.size, self.vector, self.enabled, self.started));
      return codec.nested(self.rings);
    }
  };
  struct State {
    std::vector<uint8_t> config_space;  // 256 bytes
    pci::MsixTable::State msix;
    uint32_t device_feature_select = 0;
    uint32_t driver_feature_select = 0;
    uint64_t driver_features = 0;
    uint16_t config_vector = kNoVector;
    uint8_t status = 0;
    uint8_t config_generation = 0;
    uint16_t queue_select = 0;
    uint8_t isr = 0;
    std::vector<QueueState> queues;

    static constexpr size_t kMaxQueues = 64;
    template <class Codec, class Self>
    static Result<void> fields(Codec& codec, Self& self) {
      VMHIVE_CHECK(codec.bytes(self.config_space, pci::kConfigSpaceSize, "configuration space"));
      VMHIVE_CHECK(codec.nested(self.msix));
      VMHIVE_CHECK(codec.field(self.device_feature_select, self.driver_feature_select, self.driver_features,
                               self.config_vector, self.status, self.config_generation, self.queue_select, self.isr));
      return codec.list(self.queues, kMaxQueues, [](auto& c, auto& queue) { return c.nested(queue); }, "queues");
    }
    Result<void> check() const;
  };
  State state() const;
  // Puts `state` into a transport freshly made for the same device: checks
  // it against this device (queue count and sizes, configuration layout,
  // features offered, rings inside RAM), re-creates the running queues and
  // activates the device with the negotiated features. Everything is checked
  // before anything changes: a refused state leaves the transport as it was.
  // The BAR mapping follows from the restored configuration space
  // (PciBus::remap_bars).
  Result<void> restore(const State& state);
  // Serves whatever the driver made available while nobody looked (after a
  // restore, before the vCPUs run).
  void serve_pending() { stop_polling(); }

  uint8_t status() const;
  // Why the device last needed a reset, for logs and tests; empty if never.
  std::string failure() const;
  unsigned vector_count() const { return msix_.vector_count(); }

 private:
  struct QueueRegisters {
    uint16_t size;
    uint16_t vector = kNoVector;
    bool enabled = false;
    uint64_t descriptor_table = 0;
    uint64_t available_ring = 0;
    uint64_t used_ring = 0;
  };

  uint64_t offered_features() const;
  void common_read(uint64_t offset, std::span<uint8_t> data);
  void common_write(uint64_t offset, std::span<const uint8_t> data);
  void write_status(uint8_t value);
  void reset();
  void start_queues();
  // Serves queue `index`; leaves its notifications on unless `polling`.
  bool serve_queue(unsigned index, bool polling = false);
  void fail(const std::string& why);
  void interrupt_queue(unsigned index);
  void interrupt_config();
  uint16_t checked_vector(uint16_t vector) const;

  VirtioDevice& device_;
  const GuestMemory& memory_;
  NotifyRegistrar* notify_registrar_;
  pci::ConfigSpace config_;
  pci::MsixTable msix_;
  uint8_t msix_capability_ = 0;

  mutable std::mutex lock_;  // everything below
  uint32_t device_feature_select_ = 0;
  uint32_t driver_feature_select_ = 0;
  uint64_t driver_features_ = 0;
  uint16_t config_vector_ = kNoVector;
  uint8_t status_ = 0;
  uint8_t config_generation_ = 0;
  uint16_t queue_select_ = 0;
  std::vector<QueueRegisters> queue_registers_;
  std::vector<std::optional<Virtqueue>> queues_;
  std::string failure_;
  RateLimitedLog failures_log_;  // a guest can fail its device in a loop
  std::atomic<uint8_t> isr_{0};
};

}  // namespace vmhive::virtio
