// Little-endian encoding of snapshot values: ByteWriter appends, ByteReader
// reads with a bounds check on every get (a state file is untrusted input).
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "common/result.h"

namespace vmhive {

class ByteWriter {
 public:
  void put_u8(uint8_t value) { bytes_.push_back(value); }
  void put_u16(uint16_t value) { put_little(value); }
  void put_u32(uint32_t value) { put_little(value); }
  void put_u64(uint64_t value) { put_little(value); }
  void put_bytes(std::span<const uint8_t> data) { bytes_.insert(bytes_.end(), data.begin(), data.end()); }
  // A kernel ABI struct as it lies in memory (x86-64 only, like KVM itself).
  template <class T>
  void put_object(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    put_bytes(std::span(reinterpret_cast<const uint8_t*>(&value), sizeof(T)));
  }
  void put_string(const std::string& text) {
    put_u32(static_cast<uint32_t>(text.size()));
    put_bytes(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  std::vector<uint8_t> take() { return std::move(bytes_); }

 private:
  template <class T>
  void put_little(T value) {
    for (size_t i = 0; i < sizeof(T); ++i) bytes_.push_back(static_cast<uint8_t>(value >> (8 * i)));
  }
  std::vector<uint8_t> bytes_;
};

class ByteReader {
 public:
  // `context` starts every error message ("vCPU 1 state", say).
  ByteReader(std::span<const uint8_t> bytes, std::string context) : bytes_(bytes), context_(std::move(context)) {}

  Result<uint8_t> get_u8() { return get_little<uint8_t>(); }
  Result<uint16_t> get_u16() { return get_little<uint16_t>(); }
  Result<uint32_t> get_u32() { return get_little<uint32_t>(); }
  Result<uint64_t> get_u64() { return get_little<uint64_t>(); }
  Result<std::span<const uint8_t>> get_bytes(size_t count) {
    VMHIVE_CHECK(need(count));
    auto view = bytes_.subspan(offset_, count);
    offset_ += count;
    return view;
  }
  template <class T>
  Result<T> get_object() {
    static_assert(std::is_trivially_copyable_v<T>);
    auto view = VMHIVE_TRY(get_bytes(sizeof(T)));
    T value;
    std::memcpy(&value, view.data(), sizeof(T));
    return value;
  }
  Result<std::string> get_string(size_t max_length) {
    const uint32_t length = VMHIVE_TRY(get_u32());
    if (length > max_length)
      return make_error(context_ + ": string of " + std::to_string(length) + " bytes (at most " +
                        std::to_string(max_length) + ")");
    auto view = VMHIVE_TRY(get_bytes(length));
    return std::string(view.begin(), view.end());
  }
  size_t remaining() const { return bytes_.size() - offset_; }
  Result<void> expect_end() const {
    if (remaining() != 0) return make_error(context_ + ": " + std::to_string(remaining()) + " unexpected bytes at the end");
    return {};
  }

 private:
  Result<void> need(size_t count) const {
    if (count > remaining())
      return make_error(context_ + ": truncated at byte " + std::to_string(offset_) + ", need " +
                        std::to_string(count - remaining()) + " more");
    return {};
  }
  template <class T>
  Result<T> get_little() {
    VMHIVE_CHECK(need(sizeof(T)));
    T value = 0;
    for (size_t i = 0; i < sizeof(T); ++i) value = static_cast<T>(value | (static_cast<T>(bytes_[offset_ + i]) << (8 * i)));
    offset_ += sizeof(T);
    return value;
  }

  std::span<const uint8_t> bytes_;
  std::string context_;
  size_t offset_ = 0;
};

}  // namespace vmhive
