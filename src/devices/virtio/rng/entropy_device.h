// virtio-rng (virtio 1.2 §5.4): one request queue; every device-writable
// buffer the driver offers comes back filled from the host's getrandom().
#pragma once

#include "devices/virtio/virtio_device.h"

namespace vmhive::virtio {

class EntropyDevice : public VirtioDevice {
 public:
  // At most this much entropy per request, however long the buffer: a guest
  // cannot make one notification cost the VMM unbounded time.
  static constexpr uint32_t kMaxBytesPerRequest = 64 * 1024;

  DeviceType type() const override { return DeviceType::kEntropy; }
  uint64_t features() const override { return 0; }
  unsigned queue_count() const override { return 1; }
  void read_config(uint64_t, std::span<uint8_t> data) const override;  // no configuration
  Result<void> activate(uint64_t) override { return {}; }
  void reset() override {}
  Result<bool> process_queue(unsigned index, Virtqueue& queue) override;
  // entropy_persist.cc: nothing of its own.
  Result<std::vector<uint8_t>> save(const DeviceSaveContext& context) override;

 private:
  DescriptorChain chain_;  // reused, to avoid an allocation per request
};

}  // namespace vmhive::virtio
