#include "devices/virtio/rng/entropy_device.h"
#include "common/errno_error.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace vmhive::virtio {

void EntropyDevice::read_config(uint64_t, std::span<uint8_t> data) const { std::fill(data.begin(), data.end(), 0); }

Result<bool> EntropyDevice::process_queue(unsigned index, Virtqueue& queue) {
  if (index != 0) return false;
  bool used = false;
  for (;;) {
    if (!VMHIVE_TRY(queue.pop_chain(chain_))) return used;
    uint32_t written = 0;
    for (const BufferSegment& segment : chain_.writable()) {
      const size_t wanted = std::min<size_t>(segment.data.size(), kMaxBytesPerRequest - written);
      size_t filled = 0;
      while (filled < wanted) {
        const ssize_t got = ::getrandom(segment.data.data() + filled, wanted - filled, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return errno_error("getrandom failed");
        filled += static_cast<size_t>(got);
      }
      written += static_cast<uint32_t>(filled);
      if (written == kMaxBytesPerRequest) break;
    }
    queue.add_used(chain_.head, written);
    counters().count_in(written);
    used = true;
  }
}

}  // namespace vmhive::virtio
