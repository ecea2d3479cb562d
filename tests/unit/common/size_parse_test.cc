#include "common/size_parse.h"

#include <gtest/gtest.h>

namespace vmhive {
namespace {

constexpr uint64_t kMiB = 1ull << 20;

TEST(SizeParse, AcceptsUnitsAndBareMebibytes) {
  EXPECT_EQ(*parse_size("256", kMiB), 256 * kMiB);
  EXPECT_EQ(*parse_size("256M", kMiB), 256 * kMiB);
  EXPECT_EQ(*parse_size("256m", kMiB), 256 * kMiB);
  EXPECT_EQ(*parse_size("256MiB", kMiB), 256 * kMiB);
  EXPECT_EQ(*parse_size("256MB", kMiB), 256 * kMiB);
  EXPECT_EQ(*parse_size("3G", kMiB), 3ull << 30);
  EXPECT_EQ(*parse_size("4096K", kMiB), 4 * kMiB);
  EXPECT_EQ(*parse_size("1T", kMiB), 1ull << 40);
  EXPECT_EQ(*parse_size("4096B", kMiB), 4096u);
}

TEST(SizeParse, RejectsMalformedInput) {
  for (const char* bad : {"", "M", "-1", "12X", "1.5G", "12 M", "12GG", "G12", "0x10", "99999999999999999999"})
    EXPECT_FALSE(parse_size(bad, kMiB).ok()) << bad;
}

TEST(SizeParse, RejectsOverflow) {
  EXPECT_FALSE(parse_size("18446744073709551615T", kMiB).ok());
  EXPECT_FALSE(parse_size("17179869184G", kMiB).ok());
}

TEST(SizeParse, ErrorNamesTheInput) {
  auto result = parse_size("12X", kMiB);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("'12X'"), std::string::npos);
}

TEST(SizeFormat, PicksTheLargestExactUnit) {
  EXPECT_EQ(format_size(256 * kMiB), "256 MiB");
  EXPECT_EQ(format_size(3ull << 30), "3 GiB");
  EXPECT_EQ(format_size(1536 * 1024), "1536 KiB");
  EXPECT_EQ(format_size(100), "100 B");
}

}  // namespace
}  // namespace vmhive
