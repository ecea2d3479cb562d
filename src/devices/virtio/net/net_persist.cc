#include "devices/virtio/net/net_persist.h"

#include "common/state_codec.h"

namespace vmhive::virtio {

Result<std::vector<uint8_t>> NetDevice::save(const DeviceSaveContext&) { return encode_state(NetState{mac_}); }

Result<std::unique_ptr<VirtioDevice>> NetPersistence::restore(const NetState& state, DeviceRestoreContext& context) {
  if (context.net_links_taken >= context.net_links.size())
    return make_error("no tap or socket left for a virtio-net device");
  const NetLinkSpec& link = context.net_links[context.net_links_taken++];
  auto backend = NetBackend::open(link);
  if (!backend.ok()) return with_context("--net " + link.describe(), backend.error());
  return std::unique_ptr<VirtioDevice>(std::make_unique<NetDevice>(std::move(*backend), state.mac));
}

}  // namespace vmhive::virtio
