// What a clone may send: the flows that reached it and who started each,
// the token bucket that bounds its rate, and the policies' names.
#include "farm/containment.h"

#include <gtest/gtest.h>

namespace vmhive::farm {
namespace {

using namespace std::chrono_literals;

TEST(FlowMemory, RemembersWhoStartedEachFlowAndForgetsTheOldest) {
  FlowMemory flows;
  const FlowKey from_outside{0x0a090001, 40000, 22, 6};
  const FlowKey from_clone{0x0a000005, 40001, 22, 6};
  flows.note_inbound(from_outside, kFromOutside);
  flows.note_inbound(from_clone, 7);
  EXPECT_EQ(flows.origin_of_reply(from_outside), kFromOutside);
  EXPECT_EQ(flows.origin_of_reply(from_clone), 7u);
  EXPECT_FALSE(flows.origin_of_reply(FlowKey{0x0a090001, 40000, 80, 6}).has_value()) << "another port: not a reply";
  EXPECT_FALSE(flows.origin_of_reply(FlowKey{0x0a090002, 40000, 22, 6}).has_value()) << "another address";
  EXPECT_EQ(flows.origin_of_reply(FlowKey{0x0a090001, 40999, 22, 6}, true), kFromOutside)
      << "a TCP segment without SYN from the port its client reached, to the client: a server's answer";
  EXPECT_FALSE(flows.origin_of_reply(FlowKey{0x0a090001, 445, 22, 6}).has_value())
      << "a SYN (or a datagram) to another port of the client is something the clone started";
  EXPECT_FALSE(flows.origin_of_reply(FlowKey{0x0a090001, 40000, 22, 17}).has_value()) << "another protocol";
  for (uint16_t port = 1; port <= FlowMemory::kFlows - 1; ++port) flows.note_inbound(FlowKey{1, port, 22, 6}, 0);
  EXPECT_FALSE(flows.origin_of_reply(from_outside).has_value()) << "the oldest went to make room";
  EXPECT_FALSE(flows.origin_of_reply(FlowKey{0x0a090001, 40999, 22, 6}, true).has_value());
  EXPECT_EQ(flows.origin_of_reply(from_clone), 7u);
}

TEST(RateLimit, LetsTheBurstGoThenTheRate) {
  const auto start = RateLimit::Clock::time_point{} + 1h;
  RateLimit limit(100, 10, start);  // 100 a second, 10 at once
  int allowed = 0;
  for (int i = 0; i < 50; ++i) allowed += limit.allow(start);
  EXPECT_EQ(allowed, 10) << "the burst";
  EXPECT_FALSE(limit.allow(start + 5ms)) << "half a token earned";
  EXPECT_TRUE(limit.allow(start + 10ms)) << "one token earned";
  EXPECT_FALSE(limit.allow(start + 10ms));
  // A second later: the bucket is full again, never fuller.
  allowed = 0;
  for (int i = 0; i < 50; ++i) allowed += limit.allow(start + 1010ms);
  EXPECT_EQ(allowed, 10);
  // Over a steady second of one packet every millisecond: about the rate.
  allowed = 0;
  for (int ms = 0; ms < 1000; ++ms) allowed += limit.allow(start + 2s + std::chrono::milliseconds(ms));
  EXPECT_GE(allowed, 100);
  EXPECT_LE(allowed, 111);
}

TEST(RateLimit, ZeroIsNoLimit) {
  RateLimit limit;
  for (int i = 0; i < 100000; ++i) ASSERT_TRUE(limit.allow(RateLimit::Clock::now()));
}

TEST(Containment, PoliciesByName) {
  for (Containment policy : {Containment::kDrop, Containment::kReplies, Containment::kReflect}) {
    auto named = containment_from_name(containment_name(policy));
    ASSERT_TRUE(named.ok());
    EXPECT_EQ(*named, policy);
  }
  EXPECT_FALSE(containment_from_name("allow").ok());
}

}  // namespace
}  // namespace vmhive::farm
