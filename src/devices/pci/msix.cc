#include "devices/pci/msix.h"

#include <algorithm>
#include <cstring>

namespace vmhive::pci {
namespace {

constexpr uint16_t kControlEnable = 1u << 15;
constexpr uint16_t kControlFunctionMask = 1u << 14;
constexpr uint32_t kVectorMasked = 1u;

bool aligned_dword_or_qword(uint64_t offset, size_t length) {
  return (length == 4 || length == 8) && offset % length == 0;
}

}  // namespace

MsixTable::MsixTable(unsigned vector_count, MsiSink& sink)
    : sink_(sink),
      entries_(std::clamp(vector_count, 1u, kMsixMaxVectors)),
      pending_((entries_.size() + 63) / 64, 0),
      routed_(entries_.size()) {}

std::array<uint8_t, 10> MsixTable::capability_body(uint8_t bar, uint32_t table_offset, uint32_t pba_offset) const {
  std::array<uint8_t, 10> body{};
  const uint16_t control = static_cast<uint16_t>(entries_.size() - 1);
  const uint32_t table = (table_offset & ~7u) | (bar & 7u);
  const uint32_t pba = (pba_offset & ~7u) | (bar & 7u);
  std::memcpy(&body[0], &control, 2);
  std::memcpy(&body[2], &table, 4);
  std::memcpy(&body[6], &pba, 4);
  return body;
}

std::array<uint8_t, 10> MsixTable::capability_writable() {
  std::array<uint8_t, 10> writable{};
  writable[1] = static_cast<uint8_t>((kControlEnable | kControlFunctionMask) >> 8);
  return writable;
}

bool MsixTable::enabled() const {
  std::lock_guard guard(lock_);
  return enabled_;
}

bool MsixTable::masked(unsigned vector) const {
  return function_masked_ || (entries_[vector].control & kVectorMasked) != 0;
}

void MsixTable::set_pending(unsigned vector, bool value) {
  const uint64_t bit = 1ull << (vector % 64);
  if (value) {
    pending_[vector / 64] |= bit;
  } else {
    pending_[vector / 64] &= ~bit;
  }
}

MsiMessage MsixTable::message(unsigned vector) const {
  const Entry& entry = entries_[vector];
  return MsiMessage{(uint64_t{entry.address_high} << 32) | entry.address_low, entry.data};
}

void MsixTable::sync_route(unsigned vector) {
  if (masked(vector)) return;
  const MsiMessage current = message(vector);
  if (routed_[vector] == current) return;
  routed_[vector] = current;
  sink_.route(vector, current);
}

void MsixTable::deliver_if_pending(unsigned vector) {
  sync_route(vector);
  if (enabled_ && pending(vector) && !masked(vector)) {
    set_pending(vector, false);
    sink_.signal(vector);
  }
}

void MsixTable::deliver_unmasked_pending() {
  for (unsigned vector = 0; vector < entries_.size(); ++vector) deliver_if_pending(vector);
}

void MsixTable::set_message_control(uint16_t control) {
  std::lock_guard guard(lock_);
  enabled_ = (control & kControlEnable) != 0;
  function_masked_ = (control & kControlFunctionMask) != 0;
  deliver_unmasked_pending();
}

void MsixTable::table_read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard guard(lock_);
  if (!aligned_dword_or_qword(offset, data.size()) || offset + data.size() > table_bytes()) {
    std::fill(data.begin(), data.end(), 0xff);
    return;
  }
  std::memcpy(data.data(), reinterpret_cast<const uint8_t*>(entries_.data()) + offset, data.size());
}

void MsixTable::table_write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard guard(lock_);
  if (!aligned_dword_or_qword(offset, data.size()) || offset + data.size() > table_bytes()) return;
  const unsigned vector = static_cast<unsigned>(offset / 16);
  Entry& entry = entries_[vector];
  std::memcpy(reinterpret_cast<uint8_t*>(entries_.data()) + offset, data.data(), data.size());
  entry.control &= kVectorMasked;  // the other control bits are reserved
  deliver_if_pending(vector);  // routes it first if it is unmasked and changed
}

void MsixTable::pba_read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard guard(lock_);
  if (!aligned_dword_or_qword(offset, data.size()) || offset + data.size() > pba_bytes()) {
    std::fill(data.begin(), data.end(), 0xff);
    return;
  }
  std::memcpy(data.data(), reinterpret_cast<const uint8_t*>(pending_.data()) + offset, data.size());
}

void MsixTable::notify(unsigned vector) {
  std::lock_guard guard(lock_);
  if (!enabled_ || vector >= entries_.size()) return;
  if (masked(vector)) {
    set_pending(vector, true);
    return;
  }
  sink_.signal(vector);
}

}  // namespace vmhive::pci

namespace vmhive::pci {

MsixTable::State MsixTable::state() const {
  std::lock_guard guard(lock_);
  State state;
  for (const Entry& entry : entries_) state.entries.push_back({entry.address_low, entry.address_high, entry.data, entry.control});
  state.pending = pending_;
  state.enabled = enabled_;
  state.function_masked = function_masked_;
  return state;
}

Result<void> MsixTable::check_restore(const State& state) const {
  if (state.entries.size() != entries_.size() || state.pending.size() != pending_.size())
    return make_error("MSI-X table of " + std::to_string(state.entries.size()) + " vectors; this device has " +
                      std::to_string(entries_.size()));
  return {};
}

Result<void> MsixTable::restore(const State& state) {
  VMHIVE_CHECK(check_restore(state));
  std::lock_guard guard(lock_);
  for (unsigned vector = 0; vector < entries_.size(); ++vector) {
    const auto& saved = state.entries[vector];
    entries_[vector] = Entry{saved[0], saved[1], saved[2], saved[3] & kVectorMasked};
    routed_[vector] = message(vector);
    sink_.route(vector, *routed_[vector]);
  }
  pending_ = state.pending;
  if (entries_.size() % 64 != 0) pending_.back() &= (1ull << (entries_.size() % 64)) - 1;  // no bits past the table
  enabled_ = state.enabled;
  function_masked_ = state.function_masked;
  deliver_unmasked_pending();
  return {};
}

}  // namespace vmhive::pci
