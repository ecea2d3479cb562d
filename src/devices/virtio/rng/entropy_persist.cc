#include "devices/virtio/rng/entropy_persist.h"

#include "common/state_codec.h"

namespace vmhive::virtio {

Result<std::vector<uint8_t>> EntropyDevice::save(const DeviceSaveContext&) { return encode_state(EntropyState{}); }

}  // namespace vmhive::virtio
