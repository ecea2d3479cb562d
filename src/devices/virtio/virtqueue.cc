#include "devices/virtio/virtqueue.h"
#include "common/hex.h"

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>

namespace vmhive::virtio {
namespace {

// Descriptor flags (§2.7.5).
constexpr uint16_t kDescriptorNext = 1;
constexpr uint16_t kDescriptorWrite = 2;
constexpr uint16_t kDescriptorIndirect = 4;
// Ring flags (§2.7.6, §2.7.8).
constexpr uint16_t kAvailableNoInterrupt = 1;
constexpr uint16_t kUsedNoNotify = 1;

// Byte offsets inside the rings.
constexpr uint64_t kRingHeader = 4;  // flags, idx
constexpr uint64_t kUsedElementSize = 8;

constexpr uint64_t descriptor_table_bytes(uint16_t size) { return 16ull * size; }
constexpr uint64_t available_ring_bytes(uint16_t size) { return kRingHeader + 2ull * size + 2; }
constexpr uint64_t used_ring_bytes(uint16_t size) { return kRingHeader + kUsedElementSize * size + 2; }


// The ring indices are shared with a driver on another CPU: read and written
// as 16-bit atomics (the alignment checks in create() make that legal).
std::atomic_ref<uint16_t> shared_u16(std::span<uint8_t> area, uint64_t offset) {
  return std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t*>(area.data() + offset));
}

Result<std::span<uint8_t>> ring_area(const GuestMemory& memory, const char* name, uint64_t address, uint64_t bytes,
                                     uint64_t alignment) {
  if (address % alignment != 0) {
    return make_error(std::string(name) + " at " + hex(address) + " is not " + std::to_string(alignment) +
                      "-byte aligned");
  }
  auto area = memory.slice(address, bytes);
  if (!area.ok()) {
    return make_error(std::string(name) + " [" + hex(address) + ", +" + std::to_string(bytes) +
                      ") is not inside guest RAM");
  }
  return *area;
}

}  // namespace

Result<Virtqueue> Virtqueue::create(const GuestMemory& memory, const VirtqueueState& state, uint64_t features) {
  const uint16_t size = state.size;
  if (size == 0 || size > kMaxQueueSize || (size & (size - 1)) != 0) {
    return make_error("queue size " + std::to_string(size) + " is not a power of two from 1 to 32768");
  }
  auto descriptors = VMHIVE_TRY(
      ring_area(memory, "descriptor table", state.descriptor_table, descriptor_table_bytes(size), 16));
  auto available = VMHIVE_TRY(ring_area(memory, "available ring", state.available_ring, available_ring_bytes(size), 2));
  auto used = VMHIVE_TRY(ring_area(memory, "used ring", state.used_ring, used_ring_bytes(size), 4));
  // The device writes the used ring. Laid over the descriptors or the
  // available ring, the device's own writes would publish new work to itself
  // (a used-ring flag landing on the available index): no driver does that,
  // and a hostile one could keep the device busy for ever.
  const auto overlaps = [&](uint64_t start, uint64_t bytes) {
    return state.used_ring < start + bytes && start < state.used_ring + used_ring_bytes(size);
  };
  if (overlaps(state.descriptor_table, descriptor_table_bytes(size)) ||
      overlaps(state.available_ring, available_ring_bytes(size))) {
    return make_error("the used ring at " + hex(state.used_ring) +
                      " overlaps the descriptor table or the available ring");
  }
  return Virtqueue(memory, state, features, descriptors, available, used);
}

Virtqueue::Virtqueue(const GuestMemory& memory, const VirtqueueState& state, uint64_t features,
                     std::span<uint8_t> descriptors, std::span<uint8_t> available, std::span<uint8_t> used)
    : memory_(&memory),
      state_(state),
      indirect_allowed_((features & kFeatureIndirectDesc) != 0),
      event_idx_((features & kFeatureEventIdx) != 0),
      descriptors_(descriptors),
      available_(available),
      used_(used) {}

uint16_t Virtqueue::available_index() const {
  // Acquire: the ring entries and descriptors the driver wrote before
  // publishing this index are visible after reading it.
  return shared_u16(available_, 2).load(std::memory_order_acquire);
}

bool Virtqueue::has_available() const { return available_index() != state_.next_available; }

Result<bool> Virtqueue::pop_chain(DescriptorChain& chain) {
  const uint16_t published = available_index();
  if (published == state_.next_available) return false;
  const uint16_t pending = static_cast<uint16_t>(published - state_.next_available);
  if (pending > state_.size) {
    return make_error("available ring idx " + std::to_string(published) + " is " + std::to_string(pending) +
                      " entries ahead of the device, more than the queue size " + std::to_string(state_.size));
  }
  uint16_t head;
  std::memcpy(&head, available_.data() + kRingHeader + 2ull * (state_.next_available % state_.size), sizeof head);
  if (head >= state_.size) {
    return make_error("available ring names descriptor " + std::to_string(head) + " in a queue of " +
                      std::to_string(state_.size));
  }
  chain.head = head;
  chain.segments.clear();
  chain.readable_count = 0;
  chain.readable_bytes = 0;
  chain.writable_bytes = 0;
  uint32_t visited = 0;
  VMHIVE_CHECK(walk_table(descriptors_, state_.size, head, false, chain, visited));
  ++state_.next_available;
  return true;
}

Result<void> Virtqueue::walk_table(std::span<const uint8_t> table, uint32_t count, uint16_t first, bool indirect,
                                   DescriptorChain& chain, uint32_t& visited) {
  const char* where = indirect ? "indirect table" : "descriptor table";
  uint32_t index = first;
  for (;;) {
    if (index >= count) {
      return make_error(std::string("descriptor chain of head ") + std::to_string(chain.head) + " names entry " +
                        std::to_string(index) + " of a " + std::to_string(count) + "-entry " + where);
    }
    if (++visited > count) {
      return make_error(std::string("descriptor chain of head ") + std::to_string(chain.head) +
                        " loops or is longer than its " + where + " (" + std::to_string(count) + " entries)");
    }
    // Copied once: the driver may rewrite the table while we look at it.
    Descriptor descriptor;
    std::memcpy(&descriptor, table.data() + 16ull * index, sizeof descriptor);

    if (descriptor.flags & kDescriptorIndirect) {
      if (!indirect_allowed_) return make_error("indirect descriptor without VIRTIO_F_INDIRECT_DESC negotiated");
      if (indirect) return make_error("indirect descriptor inside an indirect table");
      if (descriptor.flags & kDescriptorNext) return make_error("indirect descriptor with the NEXT flag set");
      if (descriptor.length == 0 || descriptor.length % 16 != 0 || descriptor.length / 16 > kMaxQueueSize) {
        return make_error("indirect table length " + std::to_string(descriptor.length) +
                          " is not a multiple of 16 between 16 and 16*32768");
      }
      auto nested = memory_->slice(descriptor.address, descriptor.length);
      if (!nested.ok()) {
        return make_error("indirect table [" + hex(descriptor.address) + ", +" + std::to_string(descriptor.length) +
                          ") is not inside guest RAM");
      }
      uint32_t nested_visited = 0;
      return walk_table(*nested, descriptor.length / 16, 0, true, chain, nested_visited);
    }
    VMHIVE_CHECK(add_segment(descriptor, chain));
    if (!(descriptor.flags & kDescriptorNext)) return {};
    index = descriptor.next;
  }
}

Result<void> Virtqueue::add_segment(const Descriptor& descriptor, DescriptorChain& chain) {
  if (descriptor.length == 0) {
    return make_error("zero-length buffer at " + hex(descriptor.address) + " in the chain of head " +
                      std::to_string(chain.head));
  }
  const bool writable = (descriptor.flags & kDescriptorWrite) != 0;
  if (!writable && chain.readable_count != chain.segments.size()) {
    return make_error("device-readable buffer after a device-writable one in the chain of head " +
                      std::to_string(chain.head));
  }
  auto data = memory_->slice(descriptor.address, descriptor.length);
  if (!data.ok()) {
    return make_error("buffer [" + hex(descriptor.address) + ", +" + std::to_string(descriptor.length) +
                      ") in the chain of head " + std::to_string(chain.head) + " is not inside guest RAM");
  }
  if (chain.readable_bytes + chain.writable_bytes + descriptor.length > (1ull << 32)) {
    return make_error("descriptor chain of head " + std::to_string(chain.head) + " is longer than 4 GiB");
  }
  chain.segments.push_back({*data, writable});
  if (writable) {
    chain.writable_bytes += descriptor.length;
  } else {
    ++chain.readable_count;
    chain.readable_bytes += descriptor.length;
  }
  return {};
}

void Virtqueue::add_used(uint16_t head, uint32_t bytes_written) {
  const uint32_t element[2] = {head, bytes_written};
  std::memcpy(used_.data() + kRingHeader + kUsedElementSize * (state_.next_used % state_.size), element,
              sizeof element);
  ++state_.next_used;
  // Release: the element (and the data written into the buffers) is visible
  // before the driver sees the new index.
  shared_u16(used_, 2).store(state_.next_used, std::memory_order_release);
}

bool Virtqueue::should_interrupt() {
  // The used index must be visible to the driver before we read whether it
  // wants an interrupt; otherwise both sides can miss each other (§2.7.10).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const uint16_t previous = state_.used_at_last_interrupt;
  const uint16_t current = state_.next_used;
  if (previous == current) return false;
  state_.used_at_last_interrupt = current;
  if (event_idx_) {
    const uint16_t used_event = shared_u16(available_, kRingHeader + 2ull * state_.size).load(std::memory_order_relaxed);
    // Interrupt when used_event lies in (previous, current] (vring_need_event).
    return static_cast<uint16_t>(current - used_event - 1) < static_cast<uint16_t>(current - previous);
  }
  return (shared_u16(available_, 0).load(std::memory_order_relaxed) & kAvailableNoInterrupt) == 0;
}

void Virtqueue::set_notifications(bool enabled) {
  if (event_idx_) {
    if (enabled) {
      shared_u16(used_, kRingHeader + kUsedElementSize * state_.size)
          .store(state_.next_available, std::memory_order_relaxed);
    }
  } else {
    shared_u16(used_, 0).store(enabled ? 0 : kUsedNoNotify, std::memory_order_relaxed);
  }
  // Visible before the caller re-reads the available index.
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

}  // namespace vmhive::virtio
