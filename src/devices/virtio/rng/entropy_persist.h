// virtio-rng keeps nothing of its own: its transport's state is all there is.
#pragma once

#include <memory>

#include "common/result.h"
#include "devices/virtio/device_persistence.h"
#include "devices/virtio/rng/entropy_device.h"

namespace vmhive::virtio {

struct EntropyState {
  template <class Codec, class Self>
  static Result<void> fields(Codec&, Self&) {
    return {};
  }
};

struct EntropyPersistence {
  static constexpr DeviceType kType = DeviceType::kEntropy;
  static constexpr bool kTakesNetLink = false;
  using State = EntropyState;
  static Result<std::unique_ptr<VirtioDevice>> restore(const EntropyState&, DeviceRestoreContext&) {
    return std::unique_ptr<VirtioDevice>(std::make_unique<EntropyDevice>());
  }
};

}  // namespace vmhive::virtio
