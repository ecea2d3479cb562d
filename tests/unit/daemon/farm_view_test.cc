// The daemon's picture of its farm, built from the farm's event lines:
// bindings follow bound/reclaimed/evicted/breach (only the clone named),
// stats lines carry the counters, breaches are kept as alerts, and lines
// that are not events are counted and skipped.
#include "daemon/farm_view.h"

#include <gtest/gtest.h>

#include <string>

namespace vmhive::daemon {
namespace {

TEST(FarmView, FollowsBindingsCountersAndAlerts) {
  FarmView view;
  EXPECT_EQ(view.state(), "starting");
  ASSERT_TRUE(view.apply(R"({"time_ms":1,"event":"ready","range":"10.0.0.0/20","outside":"farm0"})"));
  EXPECT_EQ(view.state(), "running");
  view.apply(R"({"time_ms":2,"event":"bound","address":"10.0.0.5","clone":1,"profile":"ssh"})");
  view.apply(R"({"time_ms":3,"event":"bound","address":"10.0.0.6","clone":2,"profile":"web","reflected_from":1})");
  EXPECT_EQ(view.clone_at("10.0.0.5"), 1u);
  EXPECT_EQ(view.clone_at("10.0.0.6"), 2u);
  // A breach of clone 1 unbinds it; a late reclaim of a clone the address no longer has changes nothing.
  view.apply(R"({"time_ms":4,"event":"breach","address":"10.0.0.5","clone":1,"profile":"ssh","reason":"outbound connection"})");
  EXPECT_FALSE(view.clone_at("10.0.0.5").has_value());
  view.apply(R"({"time_ms":5,"event":"bound","address":"10.0.0.5","clone":3,"profile":"ssh"})");
  view.apply(R"({"time_ms":6,"event":"reclaimed","address":"10.0.0.5","clone":1})");
  EXPECT_EQ(view.clone_at("10.0.0.5"), 3u);
  view.apply(R"({"time_ms":7,"event":"stats","live":2,"held":4,"counters":{"outside_frames":10,"flows":3}})");
  const auto json = view.to_json();
  EXPECT_EQ(json["range"], "10.0.0.0/20");
  EXPECT_EQ(json["live"], 2);
  EXPECT_EQ(json["held"], 4);
  EXPECT_EQ(json["counters"]["outside_frames"], 10);
  ASSERT_EQ(json["bindings"].size(), 2u);
  EXPECT_EQ(json["bindings"][1]["reflected_from"], 1);
  ASSERT_EQ(json["alerts"].size(), 1u);
  EXPECT_EQ(json["alerts"][0]["reason"], "outbound connection");
  EXPECT_EQ(view.recent().size(), 6u) << "stats lines are not kept as recent events";
  view.apply(R"({"time_ms":8,"event":"stopped","signal":15,"counters":{"outside_frames":11}})");
  EXPECT_EQ(view.state(), "stopped");
  EXPECT_FALSE(view.clone_at("10.0.0.6").has_value());
}

TEST(FarmView, LinesThatAreNotEventsAreCountedAndSkipped) {
  FarmView view;
  for (const std::string& line : {std::string("not json"), std::string("[1,2]"), std::string(R"({"no":"event"})"),
                                  std::string(R"({"event":5})"), std::string(FarmView::kMaxLine + 1, ' ')})
    EXPECT_FALSE(view.apply(line).has_value()) << line.substr(0, 20);
  EXPECT_EQ(view.malformed_lines(), 5u);
  // Members of the wrong type are ignored, not trusted.
  ASSERT_TRUE(view.apply(R"({"event":"bound","address":"10.0.0.9","clone":"x","profile":7})"));
  EXPECT_EQ(view.clone_at("10.0.0.9"), 0u);
  for (int i = 0; i < 1000; ++i) view.apply(R"({"event":"breach","address":"10.0.0.1","clone":9,"reason":"r"})");
  EXPECT_EQ(view.to_json()["alerts"].size(), FarmView::kMaxAlerts);
  EXPECT_EQ(view.recent().size(), FarmView::kMaxRecent);
}

}  // namespace
}  // namespace vmhive::daemon
