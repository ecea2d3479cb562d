#include "devices/virtio/device_kinds.h"

#include "common/state_codec.h"
#include "devices/virtio/block/block_persist.h"
#include "devices/virtio/net/net_persist.h"
#include "devices/virtio/rng/entropy_persist.h"

namespace vmhive::virtio {
namespace {

template <class Persistence>
constexpr DeviceKind kind_of() {
  using State = typename Persistence::State;
  return DeviceKind{
      Persistence::kType,
      Persistence::kTakesNetLink,
      [](std::span<const uint8_t> bytes) -> Result<void> {
        VMHIVE_TRY(decode_state<State>(bytes, std::string(type_name(Persistence::kType)) + " state"));
        return {};
      },
      [](std::span<const uint8_t> bytes, DeviceRestoreContext& context) -> Result<std::unique_ptr<VirtioDevice>> {
        const State state = VMHIVE_TRY(decode_state<State>(bytes, std::string(type_name(Persistence::kType)) + " state"));
        return Persistence::restore(state, context);
      },
  };
}

// One line per device that a snapshot can hold.
constexpr DeviceKind kDeviceKinds[] = {
    kind_of<BlockPersistence>(),
    kind_of<NetPersistence>(),
    kind_of<EntropyPersistence>(),
};

}  // namespace

const DeviceKind* find_device_kind(uint16_t type) {
  for (const DeviceKind& kind : kDeviceKinds) {
    if (static_cast<uint16_t>(kind.type) == type) return &kind;
  }
  return nullptr;
}

}  // namespace vmhive::virtio
