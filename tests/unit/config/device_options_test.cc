// --disk PATH[,readonly][,overlay=PATH] as a user types it.
#include "config/device_options.h"

#include <gtest/gtest.h>

namespace vmhive::config {
namespace {

TEST(DiskOption, AcceptsEachForm) {
  auto plain = parse_disk_option("/images/a.img");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->path, "/images/a.img");
  EXPECT_FALSE(plain->read_only);
  EXPECT_TRUE(plain->overlay_path.empty());
  auto read_only = parse_disk_option("a.img,readonly");
  ASSERT_TRUE(read_only.ok());
  EXPECT_TRUE(read_only->read_only);
  auto overlay = parse_disk_option("base.img,overlay=/tmp/vm1.ovl");
  ASSERT_TRUE(overlay.ok());
  EXPECT_EQ(overlay->overlay_path, "/tmp/vm1.ovl");
}

TEST(DiskOption, RejectsMalformedOptions) {
  for (const char* text : {"", ",readonly", "a.img,", "a.img,ro", "a.img,overlay=", "a.img,readonly,readonly",
                           "a.img,overlay=x,overlay=y", "a.img,readonly,overlay=x", "a.img,overlay=a.img",
                           "a.img,,readonly"}) {
    auto parsed = parse_disk_option(text);
    EXPECT_FALSE(parsed.ok()) << text;
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.error().message.rfind("--disk ", 0), 0u) << parsed.error().message;
    }
  }
}

}  // namespace
}  // namespace vmhive::config
