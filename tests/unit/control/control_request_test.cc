// The control protocol's request parser: every op, and one clear error for
// each malformed request.
#include "control/control_request.h"

#include <gtest/gtest.h>

namespace vmhive::control {
namespace {

TEST(ControlRequest, ParsesEachOperation) {
  auto snapshot = parse_control_request(R"({"op":"snapshot","dir":"/tmp/s","resume":false})");
  ASSERT_TRUE(snapshot.ok()) << snapshot.error().message;
  EXPECT_EQ(snapshot->op, Operation::kSnapshot);
  EXPECT_EQ(snapshot->dir, "/tmp/s");
  EXPECT_FALSE(snapshot->resume);
  EXPECT_TRUE(parse_control_request(R"({"op":"snapshot","dir":"d"})")->resume);
  EXPECT_EQ(parse_control_request(R"({"op":"pause"})")->op, Operation::kPause);
  EXPECT_EQ(parse_control_request(R"( {"op" : "resume"} )")->op, Operation::kResume);
  EXPECT_EQ(parse_control_request(R"({"op":"stop"})")->op, Operation::kStop);
  EXPECT_EQ(parse_control_request(R"({"op":"status"})")->op, Operation::kStatus);
}

TEST(ControlRequest, MalformedRequestsAreClearErrors) {
  struct Case {
    std::string line;
    std::string expected;
  };
  for (const Case& c : std::vector<Case>{
           {"", "not valid JSON"},
           {"{", "not valid JSON"},
           {"[1,2]", "must be a JSON object"},
           {"{}", "needs \"op\""},
           {R"({"op":3})", "needs \"op\""},
           {R"({"op":"reboot"})", "unknown op 'reboot'"},
           {R"({"op":"snapshot"})", "snapshot needs \"dir\""},
           {R"({"op":"snapshot","dir":""})", "non-empty string"},
           {R"({"op":"snapshot","dir":5})", "non-empty string"},
           {R"({"op":"snapshot","dir":"d","resume":"yes"})", "true or false"},
           {R"({"op":"pause","dir":"d"})", "unexpected member \"dir\""},
           {std::string(kMaxRequestBytes + 1, ' '), "longer than"},
       }) {
    auto parsed = parse_control_request(c.line);
    ASSERT_FALSE(parsed.ok()) << c.line;
    EXPECT_NE(parsed.error().message.find(c.expected), std::string::npos) << c.line << " -> " << parsed.error().message;
  }
}

TEST(ControlRequest, RepliesAreOneJsonLine) {
  EXPECT_EQ(ok_reply(), "{\"ok\":true}\n");
  EXPECT_EQ(ok_reply({{"state", "paused"}}), "{\"ok\":true,\"state\":\"paused\"}\n");
  EXPECT_EQ(ok_reply({{"b", 1}, {"a", "x"}}), "{\"ok\":true,\"b\":1,\"a\":\"x\"}\n") << "members keep their order";
  EXPECT_EQ(error_reply("bad \"thing\"\n"), "{\"ok\":false,\"error\":\"bad \\\"thing\\\"\\n\"}\n");
}

}  // namespace
}  // namespace vmhive::control
