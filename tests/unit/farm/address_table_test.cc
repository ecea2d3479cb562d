// The gateway's address bookkeeping: ranges as a user writes them, bindings
// made on first contact, kept while active, reclaimed when idle, evicted
// least recently active first when the budget is spent.
#include "farm/address_table.h"

#include <gtest/gtest.h>

namespace vmhive::farm {
namespace {

using namespace std::chrono_literals;

TEST(AddressRange, ParsesPrefixesUpToASixteen) {
  auto range = AddressRange::parse("10.0.0.0/16");
  ASSERT_TRUE(range.ok()) << range.error().message;
  EXPECT_EQ(range->size(), 65536u);
  EXPECT_TRUE(range->contains(*parse_ipv4("10.0.255.255")));
  EXPECT_TRUE(range->contains(*parse_ipv4("10.0.0.0")));
  EXPECT_FALSE(range->contains(*parse_ipv4("10.1.0.0")));
  auto twenty = AddressRange::parse("10.0.16.0/20");
  ASSERT_TRUE(twenty.ok());
  EXPECT_EQ(twenty->size(), 4096u);
  EXPECT_TRUE(twenty->contains(*parse_ipv4("10.0.31.255")));
  EXPECT_FALSE(twenty->contains(*parse_ipv4("10.0.32.0")));
  auto single = AddressRange::parse("192.168.1.7/32");
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(single->size(), 1u);

  EXPECT_NE(AddressRange::parse("10.0.0.0/8").error().message.find("at most a /16"), std::string::npos);
  EXPECT_NE(AddressRange::parse("10.0.0.1/16").error().message.find("did you mean 10.0.0.0/16"), std::string::npos);
  for (const char* bad : {"10.0.0.0", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/x", "10.0.0/16", "10.0.0.256/32",
                          "10.0.0.0.0/32", " 10.0.0.0/16", "10.0.0.0/16 ", "1000.0.0.0/16", "-1.0.0.0/16"})
    EXPECT_FALSE(AddressRange::parse(bad).ok()) << bad;
  EXPECT_EQ(ipv4_text(*parse_ipv4("10.0.3.4")), "10.0.3.4");
}

TEST(AddressTable, BindsTouchesAndEvictsTheLeastRecentlyActive) {
  AddressTable table(2);
  const auto t0 = Clock::now();
  EXPECT_EQ(table.touch(1, t0), nullptr);
  EXPECT_FALSE(table.bind(1, 100, 0, t0).has_value());
  EXPECT_FALSE(table.bind(2, 101, 0, t0 + 1s).has_value());
  ASSERT_NE(table.touch(1, t0 + 2s), nullptr);  // 1 is now the more recent
  EXPECT_EQ(table.least_recent()->address, 2u);
  const auto evicted = table.bind(3, 102, 0, t0 + 3s);
  ASSERT_TRUE(evicted.has_value());
  EXPECT_EQ(evicted->address, 2u);
  EXPECT_EQ(evicted->clone, 101u);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.find(2), nullptr);
  EXPECT_EQ(table.find(1)->clone, 100u);
  EXPECT_EQ(table.find(3)->bound_at, t0 + 3s);
  EXPECT_EQ(table.unbind(1)->clone, 100u);
  EXPECT_FALSE(table.unbind(1).has_value());
  EXPECT_EQ(table.size(), 1u);
}

TEST(AddressTable, ReclaimsWhatIsIdlePastItsProfilesTimeout) {
  AddressTable table(10);
  const auto t0 = Clock::now();
  table.bind(1, 100, 0, t0);       // profile 0: 10 s
  table.bind(2, 101, 1, t0);       // profile 1: 60 s
  table.bind(3, 102, 0, t0 + 8s);  // recent
  table.touch(1, t0 + 1s);
  const auto timeout = [](unsigned profile) { return profile == 0 ? Clock::duration(10s) : Clock::duration(60s); };
  auto reclaimed = table.reclaim_idle(t0 + 12s, timeout);
  ASSERT_EQ(reclaimed.size(), 1u);
  EXPECT_EQ(reclaimed[0].address, 1u);
  EXPECT_EQ(table.size(), 2u);
  reclaimed = table.reclaim_idle(t0 + 61s, timeout);
  ASSERT_EQ(reclaimed.size(), 2u);
  EXPECT_EQ(reclaimed[0].address, 2u) << "least recently active first";
  EXPECT_EQ(reclaimed[1].address, 3u);
  EXPECT_EQ(table.size(), 0u);
}

// A /16's worth of bindings through a small budget: the table never holds
// more than the budget and the survivors are the most recent.
TEST(AddressTable, ASixteenScanThroughABudget) {
  AddressTable table(1000);
  const auto t0 = Clock::now();
  size_t evictions = 0;
  for (uint32_t i = 0; i < 65536; ++i) {
    if (table.bind(0x0a000000 + i, i, 0, t0 + std::chrono::microseconds(i))) ++evictions;
    ASSERT_LE(table.size(), 1000u);
  }
  EXPECT_EQ(evictions, 65536u - 1000u);
  EXPECT_NE(table.find(0x0a000000 + 65535), nullptr);
  EXPECT_EQ(table.find(0x0a000000 + 64535), nullptr);
  EXPECT_NE(table.find(0x0a000000 + 64536), nullptr);
}

}  // namespace
}  // namespace vmhive::farm
