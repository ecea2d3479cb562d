// The clone server's protocol: its request parser, with one clear error for
// each malformed request, and its reply lines.
#include "clones/clone_server_protocol.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace vmhive::clones {
namespace {

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

TEST(CloneServerReply, RepliesAreOneJsonLineWithOkFirst) {
  EXPECT_EQ(started_reply(3, 4242, 1.23456789), "{\"ok\":true,\"index\":3,\"pid\":4242,\"start_ms\":1.235}\n");
  EXPECT_EQ(status_reply(2, 1, 7), "{\"ok\":true,\"ready\":2,\"restoring\":1,\"started\":7}\n");
  EXPECT_EQ(error_reply("no \"clone\"\n"), "{\"ok\":false,\"error\":\"no \\\"clone\\\"\\n\"}\n");
  // A message with bytes that are not UTF-8 (a path, say) is still one valid JSON line.
  const std::string reply = error_reply("bad \xff path");
  ASSERT_EQ(reply.back(), '\n');
  EXPECT_EQ(reply.find('\n'), reply.size() - 1);
  const auto parsed = nlohmann::json::parse(reply, nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << reply;
  EXPECT_EQ(parsed["ok"], false);
}

}  // namespace
}  // namespace vmhive::clones
