// The driver's side of a split virtqueue, for tests: writes descriptors and
// the available ring into guest memory the way a guest would (or the way a
// hostile one would), and reads back what the device put in the used ring.
#pragma once

#include <cstdint>
#include <utility>

#include "devices/virtio/virtqueue.h"
#include "memory/guest_memory.h"

namespace vmhive::virtio::testing {

inline constexpr uint16_t kDescNext = 1;
inline constexpr uint16_t kDescWrite = 2;
inline constexpr uint16_t kDescIndirect = 4;

class TestDriver {
 public:
  // The rings live at fixed addresses in the first 64 KiB of `memory`.
  TestDriver(const GuestMemory& memory, uint16_t size, uint64_t base = 0x1000)
      : memory_(memory), size_(size), table_(base), available_(base + 16ull * size), used_(base + 0x8000) {}

  VirtqueueState state() const {
    VirtqueueState state;
    state.size = size_;
    state.descriptor_table = table_;
    state.available_ring = available_;
    state.used_ring = used_;
    return state;
  }

  void set_descriptor(uint16_t index, uint64_t address, uint32_t length, uint16_t flags, uint16_t next) {
    write_descriptor(table_ + 16ull * index, address, length, flags, next);
  }
  void set_indirect(uint64_t table, uint32_t index, uint64_t address, uint32_t length, uint16_t flags, uint16_t next) {
    write_descriptor(table + 16ull * index, address, length, flags, next);
  }

  // Puts `head` in the next available slot and publishes it.
  void publish(uint16_t head) {
    const uint16_t index = available_index();
    put16(available_ + 4 + 2ull * (index % size_), head);
    set_available_index(static_cast<uint16_t>(index + 1));
  }
  uint16_t available_index() const { return get16(available_ + 2); }
  void set_available_index(uint16_t index) { put16(available_ + 2, index); }
  void set_available_flags(uint16_t flags) { put16(available_, flags); }
  void set_used_event(uint16_t index) { put16(available_ + 4 + 2ull * size_, index); }

  uint16_t used_flags() const { return get16(used_); }
  uint16_t used_index() const { return get16(used_ + 2); }
  void set_used_index(uint16_t index) { put16(used_ + 2, index); }
  uint16_t available_event() const { return get16(used_ + 4 + 8ull * size_); }
  // (descriptor id, bytes written) of used-ring slot `slot`.
  std::pair<uint32_t, uint32_t> used_element(uint16_t slot) const {
    const uint64_t at = used_ + 4 + 8ull * (slot % size_);
    return {*memory_.read_obj<uint32_t>(at), *memory_.read_obj<uint32_t>(at + 4)};
  }

 private:
  void write_descriptor(uint64_t at, uint64_t address, uint32_t length, uint16_t flags, uint16_t next) {
    (void)memory_.write_obj(at, address);
    (void)memory_.write_obj(at + 8, length);
    (void)memory_.write_obj(at + 12, flags);
    (void)memory_.write_obj(at + 14, next);
  }
  void put16(uint64_t at, uint16_t value) { (void)memory_.write_obj(at, value); }
  uint16_t get16(uint64_t at) const { return *memory_.read_obj<uint16_t>(at); }

  const GuestMemory& memory_;
  uint16_t size_;
  uint64_t table_;
  uint64_t available_;
  uint64_t used_;
};

}  // namespace vmhive::virtio::testing
