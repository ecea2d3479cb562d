// Descriptor rings are written by the guest: any contents of guest RAM, any
// queue layout and any ring position must yield chains whose buffers lie
// inside guest RAM, or a clean error; never a crash, hang or stray access.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "devices/virtio/virtqueue.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vmhive;
  constexpr uint64_t kRamSize = 64 * 1024;
  constexpr size_t kHeader = 12;
  if (size < kHeader) return 0;
  static auto memory = GuestMemory::create({{0, kRamSize}});
  if (!memory.ok()) __builtin_trap();

  uint16_t words[5];
  std::memcpy(words, data + 2, sizeof words);
  virtio::VirtqueueState state;
  // Mostly valid sizes (1..128), sometimes any 16-bit value.
  state.size = (data[0] & 0x80) ? static_cast<uint16_t>(words[4]) : static_cast<uint16_t>(1u << (data[0] % 8));
  state.descriptor_table = words[0] & ~0xfull;
  state.available_ring = words[1] & ~1ull;
  state.used_ring = words[2] & ~3ull;
  state.next_available = words[3];
  state.next_used = words[3];
  state.used_at_last_interrupt = words[3];
  const uint64_t features = static_cast<uint64_t>(data[1] & 3) << 28;

  (void)memory->fill(0, 0, kRamSize);
  (void)memory->write(0, std::span(data + kHeader, std::min<size_t>(size - kHeader, kRamSize)));
  auto queue = virtio::Virtqueue::create(*memory, state, features);
  if (!queue.ok()) return 0;

  const auto& ram = memory->regions().front();
  virtio::DescriptorChain chain;
  for (unsigned popped = 0;; ++popped) {
    if (popped > state.size) __builtin_trap();  // never more chains than the queue holds
    auto result = queue->pop_chain(chain);
    if (!result.ok() || !*result) break;
    uint64_t readable = 0, writable = 0;
    for (size_t i = 0; i < chain.segments.size(); ++i) {
      const auto& segment = chain.segments[i];
      if (segment.data.empty() || segment.data.data() < ram.host ||
          segment.data.data() + segment.data.size() > ram.host + ram.size) {
        __builtin_trap();
      }
      if (segment.device_writable != (i >= chain.readable_count)) __builtin_trap();
      (segment.device_writable ? writable : readable) += segment.data.size();
    }
    if (readable != chain.readable_bytes || writable != chain.writable_bytes) __builtin_trap();
    if (readable + writable > (1ull << 32)) __builtin_trap();
    queue->add_used(chain.head, static_cast<uint32_t>(writable));
    (void)queue->should_interrupt();
    queue->set_notifications((popped & 1) != 0);
  }
  return 0;
}
