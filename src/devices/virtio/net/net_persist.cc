#include "devices/virtio/net/net_persist.h"

#include "common/state_codec.h"

namespace vmhive::virtio {

Result<std::vector<uint8_t>> NetDevice::save(const DeviceSaveContext&) { return encode_state(NetState{mac_}); }

Result<std::unique_ptr<VirtioDevice>> NetPersistence::restore(const NetState& state, DeviceRestoreContext& context) {
  if (context.taps_taken >= context.taps.size()) return make_error("no tap left for a virtio-net device");
  const std::string& name = context.taps[context.taps_taken++];
  auto tap = Tap::open(name);
  if (!tap.ok()) return with_context("--net tap=" + name, tap.error());
  return std::unique_ptr<VirtioDevice>(std::make_unique<NetDevice>(std::move(*tap), state.mac));
}

}  // namespace vmhive::virtio
