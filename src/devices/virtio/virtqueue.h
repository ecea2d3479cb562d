// A split virtqueue (virtio 1.2 §2.7) seen from the device side.
//
// The driver owns three areas in guest RAM: the descriptor table, the
// available ring and the used ring. Everything in them is hostile input: a
// Virtqueue checks each index, address, length and flag before use, copies
// every descriptor out of guest memory once (so the driver cannot change it
// between check and use), and turns buffers into host spans only through
// GuestMemory::slice. A malformed ring yields an error; the transport then
// marks the device as needing reset (§2.1.2) and stops touching the queue.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/result.h"
#include "memory/guest_memory.h"

namespace vmhive::virtio {

// Feature bits the queue itself implements (§6).
inline constexpr uint64_t kFeatureIndirectDesc = 1ull << 28;
inline constexpr uint64_t kFeatureEventIdx = 1ull << 29;

inline constexpr uint16_t kMaxQueueSize = 32768;

// The queue's registers as the driver programmed them through the transport,
// plus the device's two ring positions: all a snapshot needs to resume it.
struct VirtqueueState {
  uint16_t size = 0;
  uint64_t descriptor_table = 0;
  uint64_t available_ring = 0;
  uint64_t used_ring = 0;
  uint16_t next_available = 0;  // the next available-ring slot the device reads
  uint16_t next_used = 0;       // the used ring's idx as the device last wrote it
  uint16_t used_at_last_interrupt = 0;

  template <class Codec, class Self>
  static Result<void> fields(Codec& codec, Self& self) {
    return codec.field(self.size, self.descriptor_table, self.available_ring, self.used_ring, self.next_available,
                       self.next_used, self.used_at_last_interrupt);
  }
};

// One buffer of a chain: a checked host view of guest memory.
struct BufferSegment {
  std::span<uint8_t> data;
  bool device_writable;
};

// A request popped from the available ring. Readable segments come first,
// then writable ones (§2.7.4.2; a chain that mixes the order is rejected).
struct DescriptorChain {
  uint16_t head = 0;
  std::vector<BufferSegment> segments;
  size_t readable_count = 0;
  uint64_t readable_bytes = 0;
  uint64_t writable_bytes = 0;

  std::span<const BufferSegment> readable() const { return std::span(segments).first(readable_count); }
  std::span<const BufferSegment> writable() const { return std::span(segments).subspan(readable_count); }
};

class Virtqueue {
 public:
  // Checks the layout (size a power of two up to 32768, alignment, all three
  // areas inside RAM) for the negotiated features.
  static Result<Virtqueue> create(const GuestMemory& memory, const VirtqueueState& state, uint64_t features);

  // Fills `chain` with the next available request and returns true, or returns
  // false when the driver has made nothing new available. An error means the
  // ring is malformed; the queue must not be used again until reset.
  Result<bool> pop_chain(DescriptorChain& chain);

  // Returns a request to the driver with the number of bytes the device wrote.
  void add_used(uint16_t head, uint32_t bytes_written);

  // Whether the driver wants an interrupt for what was used since the last
  // one (VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX, §2.7.10).
  bool should_interrupt();

  // Asks the driver to notify (or not) when it makes buffers available
  // (VIRTQ_USED_F_NO_NOTIFY, or avail_event with EVENT_IDX, §2.7.10). After
  // enabling, call has_available() again: the driver may have added buffers
  // before it saw the change.
  void set_notifications(bool enabled);

  bool has_available() const;
  // The driver's available index as last published (acquire).
  uint16_t published_index() const { return available_index(); }
  uint16_t size() const { return state_.size; }
  VirtqueueState state() const { return state_; }

 private:
  struct Descriptor {
    uint64_t address;
    uint32_t length;
    uint16_t flags;
    uint16_t next;
  };
  static_assert(sizeof(Descriptor) == 16);

  Virtqueue(const GuestMemory& memory, const VirtqueueState& state, uint64_t features,
            std::span<uint8_t> descriptors, std::span<uint8_t> available, std::span<uint8_t> used);

  uint16_t available_index() const;
  Result<void> walk_table(std::span<const uint8_t> table, uint32_t count, uint16_t first, bool indirect,
                          DescriptorChain& chain, uint32_t& visited);
  Result<void> add_segment(const Descriptor& descriptor, DescriptorChain& chain);

  const GuestMemory* memory_;
  VirtqueueState state_;
  bool indirect_allowed_;
  bool event_idx_;
  std::span<uint8_t> descriptors_;
  std::span<uint8_t> available_;
  std::span<uint8_t> used_;
};

}  // namespace vmhive::virtio
