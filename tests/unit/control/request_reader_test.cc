// A request line arriving in any pieces: complete at its newline, bounded,
// and a line cut off by the peer's close still counts.
#include "control/request_reader.h"

#include <gtest/gtest.h>

namespace vmhive::control {
namespace {

std::span<const char> bytes_of(std::string_view text) { return {text.data(), text.size()}; }

TEST(RequestReader, ALineInPieces) {
  RequestReader reader(64);
  EXPECT_FALSE(reader.feed(bytes_of("{\"op\":"))->has_value());
  EXPECT_FALSE(reader.feed(bytes_of(""))->has_value());
  auto line = reader.feed(bytes_of("\"status\"}\n{\"op\":\"stop\"}\n"));
  ASSERT_TRUE(line.ok());
  ASSERT_TRUE(line->has_value());
  EXPECT_EQ(**line, "{\"op\":\"status\"}");
  EXPECT_FALSE(reader.feed(bytes_of("more\n"))->has_value()) << "one request per connection";
  EXPECT_FALSE(reader.finish().ok());
}

TEST(RequestReader, TooLongIsAnError) {
  RequestReader reader(4);
  EXPECT_FALSE(reader.feed(bytes_of("abcd"))->has_value());
  auto over = reader.feed(bytes_of("e"));
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.error().message.find("longer than 4 bytes"), std::string::npos);
  RequestReader exact(4);
  EXPECT_EQ(**exact.feed(bytes_of("abcd\n")), "abcd");
}

TEST(RequestReader, ClosingEndsTheLine) {
  RequestReader partial(64);
  ASSERT_TRUE(partial.feed(bytes_of("{\"op\":\"status\"}")).ok());
  EXPECT_EQ(*partial.finish(), "{\"op\":\"status\"}");
  RequestReader nothing(64);
  auto empty = nothing.finish();
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("without a request"), std::string::npos);
}

}  // namespace
}  // namespace vmhive::control
