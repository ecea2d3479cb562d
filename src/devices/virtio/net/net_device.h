// virtio-net (virtio 1.2 §5.1) on a tap or a socket (net_backend.h): one
// receive and one transmit queue, the 12-byte virtio_net_hdr passed through
// unchanged (a tap speaks the same header; a socket's peer reads and writes
// it), checksum and TSO offloads offered where a tap accepts them and none
// on a socket. Without VIRTIO_NET_F_MRG_RXBUF each receive chain takes one
// whole frame.
#pragma once

#include <array>
#include <vector>

#include <sys/uio.h>

#include "devices/virtio/net/net_backend.h"
#include "devices/virtio/virtio_device.h"

namespace vmhive::virtio {

class NetDevice : public VirtioDevice {
 public:
  // Feature bits (§5.1.3).
  static constexpr uint64_t kFeatureCsum = 1ull << 0;
  static constexpr uint64_t kFeatureGuestCsum = 1ull << 1;
  static constexpr uint64_t kFeatureMac = 1ull << 5;
  static constexpr uint64_t kFeatureGuestTso4 = 1ull << 7;
  static constexpr uint64_t kFeatureGuestTso6 = 1ull << 8;
  static constexpr uint64_t kFeatureGuestEcn = 1ull << 9;
  static constexpr uint64_t kFeatureHostTso4 = 1ull << 11;
  static constexpr uint64_t kFeatureHostTso6 = 1ull << 12;
  static constexpr uint64_t kFeatureHostEcn = 1ull << 13;
  static constexpr uint64_t kFeatureStatus = 1ull << 16;
  static constexpr unsigned kReceiveQueue = 0;
  static constexpr unsigned kTransmitQueue = 1;
  static constexpr size_t kHeaderSize = 12;
  static constexpr size_t kMaxFrame = kHeaderSize + 65550;  // a 64 KiB GSO frame with its headers

  NetDevice(NetBackend backend, std::array<uint8_t, 6> mac);

  DeviceType type() const override { return DeviceType::kNet; }
  uint64_t features() const override;
  unsigned queue_count() const override { return 2; }
  void read_config(uint64_t offset, std::span<uint8_t> data) const override;
  Result<void> activate(uint64_t negotiated_features) override;
  void reset() override;
  Result<bool> process_queue(unsigned index, Virtqueue& queue) override;

  // The backend's fd: readable means frames for the receive queue.
  int backend_fd() const { return backend_.fd(); }
  std::optional<BackendWatch> backend_watch() const override { return BackendWatch{backend_.fd(), kReceiveQueue}; }
  const std::array<uint8_t, 6>& mac() const { return mac_; }
  // net_persist.cc: the MAC (the link is the restore's to choose).
  Result<std::vector<uint8_t>> save(const DeviceSaveContext& context) override;
  // Frames dropped (link full or gone, no room in a receive chain, runt frames).
  uint64_t dropped() const { return traffic().failed; }

 private:
  Result<bool> receive(Virtqueue& queue);
  Result<bool> transmit(Virtqueue& queue);

  NetBackend backend_;
  std::array<uint8_t, 6> mac_;
  uint64_t negotiated_ = 0;
  std::vector<uint8_t> frame_;  // one received frame, header included
  std::vector<iovec> iovecs_;
  DescriptorChain chain_;
};

}  // namespace vmhive::virtio
