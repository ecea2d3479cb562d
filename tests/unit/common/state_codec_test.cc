// Describing a state's fields once: the encoder and the decoder run the same
// list, and the decoder refuses every malformed input with one message.
#include "common/state_codec.h"

#include <gtest/gtest.h>

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace vmhive {
namespace {

enum class Colour : uint16_t { kRed = 1, kBlue = 7 };

struct Inner {
  uint32_t a = 0;
  bool b = false;
  template <class Codec, class Self>
  static Result<void> fields(Codec& codec, Self& self) {
    return codec.field(self.a, self.b);
  }
  Result<void> check() const {
    if (a == 13) return make_error("a is unlucky");
    return {};
  }
};

struct Everything {
  uint8_t u8 = 0;
  uint16_t u16 = 0;
  uint64_t u64 = 0;
  int64_t i64 = 0;
  bool flag = false;
  Colour colour = Colour::kRed;
  std::array<uint8_t, 3> bytes3{};
  std::array<uint32_t, 2> words{};
  std::optional<uint8_t> maybe;
  std::vector<uint8_t> blob;
  std::string name;
  std::vector<Inner> inners;
  Inner single;

  template <class Codec, class Self>
  static Result<void> fields(Codec& codec, Self& self) {
    VMHIVE_CHECK(codec.field(self.u8, self.u16, self.u64, self.i64, self.flag, self.colour, self.bytes3, self.words,
                             self.maybe));
    VMHIVE_CHECK(codec.bytes(self.blob, 8, "blob"));
    VMHIVE_CHECK(codec.string(self.name, 5));
    VMHIVE_CHECK(codec.list(self.inners, 2, [](auto& c, auto& inner) { return c.nested(inner); }, "inners"));
    return codec.nested(self.single);
  }
};

Everything sample() {
  Everything e;
  e.u8 = 0xab;
  e.u16 = 0x1234;
  e.u64 = 0x0102030405060708ull;
  e.i64 = -42;
  e.flag = true;
  e.colour = Colour::kBlue;
  e.bytes3 = {9, 8, 7};
  e.words = {0xdeadbeef, 5};
  e.maybe = 0x5a;
  e.blob = {1, 2, 3};
  e.name = "hive";
  e.inners = {{1, true}, {2, false}};
  e.single = {99, true};
  return e;
}

std::string error_of(const std::vector<uint8_t>& bytes) {
  auto decoded = decode_state<Everything>(bytes, "test section");
  return decoded.ok() ? std::string("(decoded)") : decoded.error().message;
}

TEST(StateCodec, EveryKindOfFieldRoundTrips) {
  const Everything e = sample();
  auto decoded = decode_state<Everything>(encode_state(e), "test section");
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->u8, e.u8);
  EXPECT_EQ(decoded->u16, e.u16);
  EXPECT_EQ(decoded->u64, e.u64);
  EXPECT_EQ(decoded->i64, -42);
  EXPECT_TRUE(decoded->flag);
  EXPECT_EQ(decoded->colour, Colour::kBlue);
  EXPECT_EQ(decoded->bytes3, e.bytes3);
  EXPECT_EQ(decoded->words, e.words);
  EXPECT_EQ(decoded->maybe, std::optional<uint8_t>(0x5a));
  EXPECT_EQ(decoded->blob, e.blob);
  EXPECT_EQ(decoded->name, "hive");
  ASSERT_EQ(decoded->inners.size(), 2u);
  EXPECT_EQ(decoded->inners[1].a, 2u);
  EXPECT_EQ(decoded->single.a, 99u);
  Everything empty_optional = e;
  empty_optional.maybe.reset();
  EXPECT_FALSE(decode_state<Everything>(encode_state(empty_optional), "t")->maybe.has_value());
}

TEST(StateCodec, IntegersAreLittleEndianAtTheirOwnWidth) {
  const auto bytes = encode_state(sample());
  ASSERT_GE(bytes.size(), 3u);
  EXPECT_EQ(bytes[0], 0xab);
  EXPECT_EQ(bytes[1], 0x34);
  EXPECT_EQ(bytes[2], 0x12);
  EXPECT_EQ(bytes[3], 0x08) << "u64, low byte first";
}

TEST(StateCodec, RefusesMalformedInput) {
  const auto good = encode_state(sample());
  // Every prefix is truncated input.
  for (size_t length = 0; length < good.size(); ++length) {
    const std::string error = error_of(std::vector<uint8_t>(good.begin(), good.begin() + static_cast<long>(length)));
    EXPECT_NE(error.find("test section: truncated"), std::string::npos) << length << ": " << error;
  }
  auto extra = good;
  extra.push_back(0);
  EXPECT_NE(error_of(extra).find("1 unexpected bytes at the end"), std::string::npos) << error_of(extra);

  const size_t flag_at = 1 + 2 + 8 + 8;
  auto bad_flag = good;
  bad_flag[flag_at] = 2;
  EXPECT_NE(error_of(bad_flag).find("test section: a flag is 2, not 0 or 1"), std::string::npos);

  Everything big_blob = sample();
  big_blob.blob.assign(9, 1);
  EXPECT_NE(error_of(encode_state(big_blob)).find("blob of 9 bytes (at most 8)"), std::string::npos);
  Everything long_name = sample();
  long_name.name = "honeycomb";
  EXPECT_NE(error_of(encode_state(long_name)).find("string of 9 bytes (at most 5)"), std::string::npos);
  Everything many = sample();
  many.inners.resize(3);
  EXPECT_NE(error_of(encode_state(many)).find("3 inners (at most 2)"), std::string::npos);
}

TEST(StateCodec, ChecksRunOnNestedStatesToo) {
  Everything unlucky_single = sample();
  unlucky_single.single.a = 13;
  EXPECT_EQ(error_of(encode_state(unlucky_single)), "test section: a is unlucky");
  Everything unlucky_element = sample();
  unlucky_element.inners[0].a = 13;
  EXPECT_EQ(error_of(encode_state(unlucky_element)), "test section: a is unlucky");
}

}  // namespace
}  // namespace vmhive
