// A virtio device on the PCI bus as a snapshot keeps it: which device, in
// which slot, the device's own state (opaque here, encoded by the device's
// persist code) and its transport's registers and queues.
#pragma once

#include <cstdint>
#include <vector>

#include "common/result.h"
#include "devices/virtio/pci_transport.h"

namespace vmhive::virtio {

struct FunctionState {
  static constexpr size_t kMaxDeviceState = 64 * 1024;

  uint16_t device_type = 0;  // DeviceType
  uint8_t slot = 0;          // PCI device number, 1 to 31
  std::vector<uint8_t> device;
  PciTransport::State transport;

  template <class Codec, class Self>
  static Result<void> fields(Codec& codec, Self& self) {
    VMHIVE_CHECK(codec.field(self.device_type, self.slot));
    VMHIVE_CHECK(codec.bytes(self.device, kMaxDeviceState, "device state"));
    return codec.nested(self.transport);
  }
  // A known device type whose state is well formed, in a device slot.
  Result<void> check() const;
};

}  // namespace vmhive::virtio
