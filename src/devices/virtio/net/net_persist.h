// virtio-net's persisted state: the MAC address the guest knows. The link (a
// tap or a socket) is the restore's choice (a clone gets its own), in order.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "common/result.h"
#include "devices/virtio/device_persistence.h"
#include "devices/virtio/net/net_device.h"

namespace vmhive::virtio {

struct NetState {
  std::array<uint8_t, 6> mac{};

  template <class Codec, class Self>
  static Result<void> fields(Codec& codec, Self& self) {
    return codec.field(self.mac);
  }
};

struct NetPersistence {
  static constexpr DeviceType kType = DeviceType::kNet;
  static constexpr bool kTakesNetLink = true;
  using State = NetState;
  // A device with the snapshot's MAC on the next of the restore's links.
  static Result<std::unique_ptr<VirtioDevice>> restore(const NetState& state, DeviceRestoreContext& context);
};

}  // namespace vmhive::virtio
