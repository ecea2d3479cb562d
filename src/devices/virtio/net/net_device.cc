#include "devices/virtio/net/net_device.h"
#include "common/errno_error.h"

#include <linux/if_tun.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vmhive::virtio {
namespace {

constexpr uint16_t kLinkUp = 1;
constexpr size_t kMinimumFrame = NetDevice::kHeaderSize + 14;  // header + Ethernet header

}  // namespace

NetDevice::NetDevice(NetBackend backend, std::array<uint8_t, 6> mac)
    : backend_(std::move(backend)), mac_(mac), frame_(kMaxFrame) {}

uint64_t NetDevice::features() const {
  uint64_t features = kFeatureMac | kFeatureStatus;
  // What the guest may leave undone in what it sends: only if the link finishes it.
  if (backend_.finishes_offloads()) features |= kFeatureCsum | kFeatureHostTso4 | kFeatureHostTso6 | kFeatureHostEcn;
  // What the guest may receive depends on what the link can hand over.
  const unsigned tap = backend_.supported_offloads();
  if (tap & TUN_F_CSUM) {
    features |= kFeatureGuestCsum;
    if (tap & TUN_F_TSO4) features |= kFeatureGuestTso4;
    if (tap & TUN_F_TSO6) features |= kFeatureGuestTso6;
    if (tap & TUN_F_TSO_ECN) features |= kFeatureGuestEcn;
  }
  return features;
}

void NetDevice::read_config(uint64_t offset, std::span<uint8_t> data) const {
  std::array<uint8_t, 12> config{};
  std::copy(mac_.begin(), mac_.end(), config.begin());
  std::memcpy(&config[6], &kLinkUp, 2);  // status
  const uint16_t pairs = 1;
  std::memcpy(&config[8], &pairs, 2);  // max_virtqueue_pairs
  std::fill(data.begin(), data.end(), 0);
  if (offset < config.size()) {
    std::memcpy(data.data(), &config[offset], std::min<size_t>(data.size(), config.size() - offset));
  }
}

Result<void> NetDevice::activate(uint64_t negotiated_features) {
  negotiated_ = negotiated_features;
  unsigned offloads = 0;
  if (negotiated_ & kFeatureGuestCsum) {
    offloads |= TUN_F_CSUM;
    if (negotiated_ & kFeatureGuestTso4) offloads |= TUN_F_TSO4;
    if (negotiated_ & kFeatureGuestTso6) offloads |= TUN_F_TSO6;
    if (negotiated_ & kFeatureGuestEcn) offloads |= TUN_F_TSO_ECN;
  }
  return backend_.set_offloads(offloads);
}

void NetDevice::reset() {
  negotiated_ = 0;
  (void)backend_.set_offloads(0);
}

Result<bool> NetDevice::process_queue(unsigned index, Virtqueue& queue) {
  if (index == kReceiveQueue) return receive(queue);
  if (index == kTransmitQueue) return transmit(queue);
  return false;
}

Result<bool> NetDevice::receive(Virtqueue& queue) {
  bool used = false;
  // A frame is read from the link only when a chain is ready for it, so none
  // is lost while the guest has no buffers; the link queues them meanwhile.
  while (queue.has_available()) {
    const ssize_t length = ::read(backend_.fd(), frame_.data(), frame_.size());
    if (length < 0) {
      if (errno == EAGAIN || errno == EINTR) return used;
      return errno_error("reading", backend_.name());
    }
    if (length == 0) return used;  // a socket whose peer has gone: the wire is cut, nothing comes
    if (!VMHIVE_TRY(queue.pop_chain(chain_))) return used;
    const size_t frame_length = static_cast<size_t>(length);
    if (frame_length > chain_.writable_bytes || frame_length < kMinimumFrame) {
      counters().count_failed();  // the guest's buffer is too small for it (or the frame is a runt)
      queue.add_used(chain_.head, 0);
      used = true;
      continue;
    }
    size_t copied = 0;
    for (const BufferSegment& segment : chain_.writable()) {
      const size_t take = std::min(segment.data.size(), frame_length - copied);
      std::memcpy(segment.data.data(), frame_.data() + copied, take);
      copied += take;
      if (copied == frame_length) break;
    }
    queue.add_used(chain_.head, static_cast<uint32_t>(frame_length));
    counters().count_in(frame_length - kHeaderSize);
    used = true;
  }
  return used;
}

Result<bool> NetDevice::transmit(Virtqueue& queue) {
  bool used = false;
  for (;;) {
    if (!VMHIVE_TRY(queue.pop_chain(chain_))) return used;
    // The frame goes to the link straight from guest memory, header included.
    iovecs_.clear();
    for (const BufferSegment& segment : chain_.readable()) {
      iovecs_.push_back(iovec{segment.data.data(), segment.data.size()});
    }
    if (chain_.readable_bytes < kMinimumFrame || chain_.readable_bytes > kMaxFrame ||
        ::writev(backend_.fd(), iovecs_.data(), static_cast<int>(iovecs_.size())) < 0) {
      counters().count_failed();  // a runt or oversized frame, or the link is full or gone: lost, as on a wire
    } else {
      counters().count_out(chain_.readable_bytes - kHeaderSize);
    }
    queue.add_used(chain_.head, 0);
    used = true;
  }
}

}  // namespace vmhive::virtio
