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

TEST(CloneServerRequest, ParsesCloneAndStatus) {
  auto status = parse_clone_server_request(R"({"op":"status"})");
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_FALSE(status->clone);
  auto plain = parse_clone_server_request(R"({"op":"clone"})");
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->clone);
  EXPECT_EQ(plain->input, "");
  auto with_input = parse_clone_server_request(R"({"input":"p\n","op":"clone"})");
  ASSERT_TRUE(with_input.ok());
  EXPECT_EQ(with_input->input, "p\n");
}

TEST(CloneServerRequest, MalformedRequestsAreClearErrors) {
  for (const std::string& line :
       {std::string("not json"), std::string("[]"), std::string(R"({"op":7})"), std::string(R"({"op":"launch"})"),
        std::string(R"({"op":"clone","input":7})"), std::string(R"({"op":"clone","count":3})"),
        std::string(R"({"op":"status","x":1})"), std::string(R"({"op":"clone","input":")") + std::string(4097, 'a') + "\"}",
        std::string(70 * 1024, ' ')}) {
    auto request = parse_clone_server_request(line);
    ASSERT_FALSE(request.ok()) << line.substr(0, 60);
    EXPECT_FALSE(request.error().message.empty());
    EXPECT_EQ(request.error().message.find('\n'), std::string::npos);
  }
}

}  // namespace
}  // namespace vmhive::control
