// A farm's configuration file: what it takes, and one clear error naming the
// member for everything it does not.
#include "farm/farm_config.h"

#include <gtest/gtest.h>

#include <string>

namespace vmhive::farm {
namespace {

const std::string kProfile =
    R"({"name": "ssh", "snapshot": "/s", "address": "10.0.0.2", "mac": "02:00:00:00:00:aa", "ports": [22]})";

std::string farm_with(const std::string& members) {
  return R"({"outside_tap": "farm0", "range": "10.0.0.0/20", "profiles": [)" + kProfile + "]" + members + "}";
}

TEST(FarmConfig, TakesAFarmAndPicksProfilesByPort) {
  auto config = farm_config_from_json(R"({"outside_tap": "farm0", "range": "10.0.0.0/20", "budget": 7,
      "gateway_mac": "02:76:68:00:00:09", "profiles": [)" + kProfile +
                                      R"(, {"snapshot": "/w", "address": "10.0.0.3", "mac": "02:00:00:00:00:bb",
      "ports": [80, 8080], "ready": 9, "idle_timeout_s": 5}]})");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->outside_tap, "farm0");
  EXPECT_EQ(config->range.size(), 4096u);
  EXPECT_EQ(config->budget, 7u);
  EXPECT_EQ(config->gateway_mac[5], 9);
  ASSERT_EQ(config->profiles.size(), 2u);
  EXPECT_EQ(config->profiles[0].name, "ssh");
  EXPECT_EQ(config->profiles[0].ready, 4u) << "the default";
  EXPECT_EQ(config->profiles[0].idle_timeout, std::chrono::seconds(60)) << "the default";
  EXPECT_EQ(config->profiles[1].name, "profiles[1]") << "unnamed: named by its place";
  EXPECT_EQ(config->profiles[1].inside_address, 0x0a000003u);
  EXPECT_EQ(config->profiles[1].ready, 9u);
  EXPECT_EQ(profile_for_port(*config, 22), 0u);
  EXPECT_EQ(profile_for_port(*config, 8080), 1u);
  EXPECT_EQ(profile_for_port(*config, 0), 0u) << "ICMP and unlisted ports: the first profile";
}

TEST(FarmConfig, EveryMistakeIsOneErrorNamingTheMember) {
  struct Case {
    std::string document;
    std::string expected;
  };
  for (const Case& c : std::vector<Case>{
           {"not json", "not valid JSON"},
           {"[]", "must be a JSON object"},
           {std::string(70 * 1024, ' '), "larger than 64 KiB"},
           {R"({"range": "10.0.0.0/20", "profiles": [)" + kProfile + "]}", "outside_tap: the farm needs"},
           {R"({"outside_tap": "farm0", "profiles": [)" + kProfile + "]}", "range: the farm needs"},
           {R"({"outside_tap": "farm0", "range": "10.0.0.0/20"})", "profiles: the farm needs"},
           {farm_with(R"(, "budget": 0)"), "budget: 0 is not from 1 to 65536"},
           {farm_with(R"(, "budget": "10")"), "budget: must be a whole number"},
           {farm_with(R"(, "gateway_mac": "01:00:00:00:00:01")"), "multicast"},
           {farm_with(R"(, "extra": 1)"), "unknown member \"extra\""},
           {farm_with(R"(, "forensics_dir": "relative/dir")"), "forensics_dir: must be an absolute path"},
           {R"({"outside_tap": "a/b", "range": "10.0.0.0/20", "profiles": [)" + kProfile + "]}", "interface name"},
           {R"({"outside_tap": "farm0", "range": "10.0.0.0/8", "profiles": [)" + kProfile + "]}",
            "range: '10.0.0.0/8': at most a /16"},
           {R"({"outside_tap": "farm0", "range": "10.0.0.0/20", "profiles": []})", "1 to 16 service profiles"},
           {R"({"outside_tap": "farm0", "range": "10.0.0.0/20", "profiles": [{"address": "10.0.0.2", "mac": "02:00:00:00:00:aa"}]})",
            "profiles[0]: needs \"snapshot\""},
           {R"({"outside_tap": "farm0", "range": "10.0.0.0/20", "profiles": [{"snapshot": "/s", "mac": "02:00:00:00:00:aa"}]})",
            "profiles[0]: needs \"address\""},
           {R"({"outside_tap": "farm0", "range": "10.0.0.0/20", "profiles": [{"snapshot": "/s", "address": "10.0.0.2"}]})",
            "profiles[0]: needs \"mac\""},
           {R"({"outside_tap": "farm0", "range": "10.0.0.0/20", "profiles": [{"snapshot": "/s", "address": "10.0.0.300", "mac": "02:00:00:00:00:aa"}]})",
            "profiles[0].address: '10.0.0.300' is not an IPv4 address"},
           {R"({"outside_tap": "farm0", "range": "10.0.0.0/20", "profiles": [{"snapshot": "/s", "address": "10.0.0.2", "mac": "02:00:00:00:00:aa", "ports": [0]}]})",
            "profiles[0].ports[0]: 0 is not from 1 to 65535"},
           {R"({"outside_tap": "farm0", "range": "10.0.0.0/20", "profiles": [{"snapshot": "/s", "address": "10.0.0.2", "mac": "02:00:00:00:00:aa", "ready": 1000}]})",
            "profiles[0].ready: 1000 is not from 1 to 256"},
           {R"({"outside_tap": "farm0", "range": "10.0.0.0/20", "profiles": [{"snapshot": "/s", "address": "10.0.0.2", "mac": "02:00:00:00:00:aa", "idle_timeout_s": 0}]})",
            "profiles[0].idle_timeout_s: 0 is not from 1 to 86400"},
       }) {
    auto config = farm_config_from_json(c.document);
    ASSERT_FALSE(config.ok()) << c.document.substr(0, 100);
    EXPECT_NE(config.error().message.find(c.expected), std::string::npos)
        << config.error().message << "\n  expected: " << c.expected;
    EXPECT_EQ(config.error().message.find('\n'), std::string::npos) << "one line";
  }
}

}  // namespace
}  // namespace vmhive::farm
