// Persisted state described once, for both directions.
//
// A state type S lists its fields in one function:
//
//   struct S {
//     uint8_t mode;  bool armed;  std::vector<uint8_t> fifo;
//     template <class Codec, class Self>
//     static Result<void> fields(Codec& codec, Self& self) {
//       VMHIVE_CHECK(codec.field(self.mode, self.armed));
//       return codec.bytes(self.fifo, kMaxFifo);
//     }
//   };
//
// encode_state() runs it with a StateEncoder over a `const S` and
// decode_state() with a StateDecoder over a fresh S, so the encoder and
// decoder are the same list and cannot drift apart. Decoding is of untrusted
// bytes: every length is bounded by the caller's maximum, every flag must be
// 0 or 1, and the whole input must be used. A type may also define
//   Result<void> check() const;
// for rules across fields; decoding calls it after the fields (of a nested
// state too).
//
// Integers are little-endian at their own width; bool is one byte; enums
// travel as their underlying type; std::array and std::optional of those
// as their elements (an optional as a presence flag and a value).
// object() carries a kernel ABI struct as it lies in memory (x86-64 only,
// like KVM itself).
#pragma once

#include <array>
#include <concepts>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "common/byte_codec.h"
#include "common/result.h"

namespace vmhive {

class StateEncoder {
 public:
  static constexpr bool kDecoding = false;

  template <class... T>
  Result<void> field(const T&... values) {
    (put(values), ...);
    return {};
  }
  template <class T>
  Result<void> object(const T& value) {
    writer_.put_object(value);
    return {};
  }
  Result<void> bytes(const std::vector<uint8_t>& data, size_t /*max*/, const char* /*what*/ = "data") {
    writer_.put_u32(static_cast<uint32_t>(data.size()));
    writer_.put_bytes(data);
    return {};
  }
  Result<void> string(const std::string& text, size_t /*max*/) {
    writer_.put_string(text);
    return {};
  }
  // A counted list; `each(codec, element)` describes one element.
  template <class T, class Each>
  Result<void> list(const std::vector<T>& items, size_t /*max*/, Each each, const char* /*what*/ = "entries") {
    writer_.put_u32(static_cast<uint32_t>(items.size()));
    for (const T& item : items) VMHIVE_CHECK(each(*this, item));
    return {};
  }
  // A list whose count the reader knows already (it must equal `expected`).
  template <class T, class Each>
  Result<void> fixed_list(const std::vector<T>& items, size_t /*expected*/, Each each) {
    for (const T& item : items) VMHIVE_CHECK(each(*this, item));
    return {};
  }
  // Another described state, inline.
  template <class S>
  Result<void> nested(const S& state) {
    return S::fields(*this, state);
  }
  // A rule on values already described; only checked while decoding.
  Result<void> expect(bool, const char*) { return {}; }

  std::vector<uint8_t> take() { return writer_.take(); }

 private:
  template <class T>
  void put(const T& value) {
    if constexpr (std::is_same_v<T, bool>) {
      writer_.put_u8(value ? 1 : 0);
    } else if constexpr (std::is_enum_v<T>) {
      put(static_cast<std::underlying_type_t<T>>(value));
    } else if constexpr (std::is_integral_v<T>) {
      using Unsigned = std::make_unsigned_t<T>;
      const auto bits = static_cast<Unsigned>(value);
      for (size_t i = 0; i < sizeof(T); ++i) writer_.put_u8(static_cast<uint8_t>(bits >> (8 * i)));
    } else if constexpr (requires { typename T::value_type; std::tuple_size<T>::value; }) {
      for (const auto& element : value) put(element);
    } else {
      static_assert(requires { value.has_value(); }, "no encoding for this field type; use object() or nested()");
      put(value.has_value());
      put(value.value_or(typename T::value_type{}));
    }
  }

  ByteWriter writer_;
};

class StateDecoder {
 public:
  static constexpr bool kDecoding = true;

  // `context` starts every error ("UART section", "virtio section 2").
  StateDecoder(std::span<const uint8_t> bytes, std::string context)
      : reader_(bytes, context), context_(std::move(context)) {}

  template <class... T>
  Result<void> field(T&... values) {
    Result<void> result;
    ((result.ok() ? (void)(result = get(values)) : (void)0), ...);
    return result;
  }
  template <class T>
  Result<void> object(T& value) {
    value = VMHIVE_TRY(reader_.get_object<T>());
    return {};
  }
  // `what` names the data in errors: "receive FIFO of 5000 bytes (at most 4096)".
  Result<void> bytes(std::vector<uint8_t>& data, size_t max, const char* what = "data") {
    const uint32_t count = VMHIVE_TRY(reader_.get_u32());
    if (count > max)
      return make_error(context_ + ": " + what + " of " + std::to_string(count) + " bytes (at most " +
                        std::to_string(max) + ")");
    auto view = VMHIVE_TRY(reader_.get_bytes(count));
    data.assign(view.begin(), view.end());
    return {};
  }
  Result<void> string(std::string& text, size_t max) {
    text = VMHIVE_TRY(reader_.get_string(max));
    return {};
  }
  // `what` names the elements in errors: "65 queues (at most 64)".
  template <class T, class Each>
  Result<void> list(std::vector<T>& items, size_t max, Each each, const char* what = "entries") {
    const uint32_t count = VMHIVE_TRY(reader_.get_u32());
    if (count > max)
      return make_error(context_ + ": " + std::to_string(count) + " " + what + " (at most " + std::to_string(max) +
                        ")");
    return fixed_list(items, count, each);
  }
  template <class T, class Each>
  Result<void> fixed_list(std::vector<T>& items, size_t count, Each each) {
    items.clear();
    items.reserve(count);
    for (size_t index = 0; index < count; ++index) {
      T item{};
      VMHIVE_CHECK(each(*this, item));
      items.push_back(std::move(item));
    }
    return {};
  }
  template <class S>
  Result<void> nested(S& state) {
    VMHIVE_CHECK(S::fields(*this, state));
    if constexpr (requires(const S& s) { s.check(); }) {
      if (auto checked = state.check(); !checked.ok()) return with_context(context_, checked.error());
    }
    return {};
  }
  Result<void> expect(bool holds, const char* rule) {
    if (!holds) return make_error(context_ + ": " + rule);
    return {};
  }

  Result<void> expect_end() const { return reader_.expect_end(); }
  const std::string& context() const { return context_; }

 private:
  template <class T>
  Result<void> get(T& value) {
    if constexpr (std::is_same_v<T, bool>) {
      const uint8_t byte = VMHIVE_TRY(reader_.get_u8());
      if (byte > 1) return make_error(context_ + ": a flag is " + std::to_string(byte) + ", not 0 or 1");
      value = byte == 1;
    } else if constexpr (std::is_enum_v<T>) {
      std::underlying_type_t<T> raw{};
      VMHIVE_CHECK(get(raw));
      value = static_cast<T>(raw);
    } else if constexpr (std::is_integral_v<T>) {
      using Unsigned = std::make_unsigned_t<T>;
      Unsigned bits = 0;
      for (size_t i = 0; i < sizeof(T); ++i) {
        const uint8_t byte = VMHIVE_TRY(reader_.get_u8());
        bits = static_cast<Unsigned>(bits | (static_cast<Unsigned>(byte) << (8 * i)));
      }
      value = static_cast<T>(bits);
    } else if constexpr (requires { typename T::value_type; std::tuple_size<T>::value; }) {
      for (auto& element : value) VMHIVE_CHECK(get(element));
    } else {
      static_assert(requires { value.has_value(); }, "no decoding for this field type; use object() or nested()");
      bool present = false;
      typename T::value_type inner{};
      VMHIVE_CHECK(get(present));
      VMHIVE_CHECK(get(inner));
      value = present ? T(inner) : std::nullopt;
    }
    return {};
  }

  ByteReader reader_;
  std::string context_;
};

template <class S>
std::vector<uint8_t> encode_state(const S& state) {
  StateEncoder encoder;
  (void)S::fields(encoder, state);  // encoding cannot fail
  return encoder.take();
}

template <class S>
Result<S> decode_state(std::span<const uint8_t> bytes, std::string context) {
  StateDecoder decoder(bytes, std::move(context));
  S state{};
  VMHIVE_CHECK(S::fields(decoder, state));
  VMHIVE_CHECK(decoder.expect_end());
  if constexpr (requires(const S& s) { s.check(); }) {
    if (auto checked = state.check(); !checked.ok()) return with_context(decoder.context(), checked.error());
  }
  return state;
}

}  // namespace vmhive
