#include "devices/virtio/function_state.h"

#include "devices/virtio/device_kinds.h"

namespace vmhive::virtio {

Result<void> FunctionState::check() const {
  const DeviceKind* kind = find_device_kind(device_type);
  if (kind == nullptr) return make_error("unknown virtio device type " + std::to_string(device_type));
  if (slot == 0 || slot >= 32) return make_error("PCI slot " + std::to_string(slot));
  return kind->check_state(device);
}

}  // namespace vmhive::virtio
