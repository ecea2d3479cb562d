// The virtio devices a snapshot can hold, one registration line each in
// device_kinds.cc: how to check a device's saved state and how to build the
// device again from it. Everything about a device's state lives in its own
// folder (its State type and Persistence: block/block_persist.h, ...); the
// platform and the snapshot code loop over these without knowing the types.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/result.h"
#include "devices/virtio/device_persistence.h"
#include "devices/virtio/virtio_device.h"

namespace vmhive::virtio {

struct DeviceKind {
  DeviceType type;
  bool takes_net_link;  // a restore must give it one of its links (--net tap=NAME or fd=N)
  // Decodes and checks a saved state without building anything.
  Result<void> (*check_state)(std::span<const uint8_t> state);
  Result<std::unique_ptr<VirtioDevice>> (*restore)(std::span<const uint8_t> state, DeviceRestoreContext& context);
};

// The kind for a saved device type, or null for one vmhive does not have.
const DeviceKind* find_device_kind(uint16_t type);

}  // namespace vmhive::virtio
