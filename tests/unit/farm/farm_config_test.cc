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
  EXPECT_EQ(config->profiles[0].containment, Containment::kReplies) << "the default: only replies leave";
  EXPECT_EQ(config->profiles[0].rate_limit_pps, 0u) << "the default: no limit";
  EXPECT_EQ(config->dns_sinkhole, 0u);
  EXPECT_TRUE(config->alert_socket.empty());
  EXPECT_FALSE(config->alert_webhook.has_value());
}

TEST(FarmConfig, TakesContainmentRateLimitsSinkholeAndAlerts) {
  auto config = farm_config_from_json(R"({"outside_tap": "farm0", "range": "10.0.0.0/20",
      "dns_sinkhole": "10.0.15.254", "alert_socket": "/run/farm/alerts.sock", "console_dir": "/var/log/farm",
      "stats_interval_s": 0,
      "alert_webhook": "http://192.0.2.7:8080/hooks/farm?x=1", "profiles": [{"snapshot": "/s",
      "address": "10.0.0.2", "mac": "02:00:00:00:00:aa", "containment": "reflect",
      "rate_limit": {"packets_per_s": 500}}, {"snapshot": "/t", "address": "10.0.0.2", "mac": "02:00:00:00:00:aa",
      "containment": "drop", "rate_limit": {"packets_per_s": 5, "burst": 50}, "write_protect_text": true}]})");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->dns_sinkhole, 0x0a000ffeu);
  EXPECT_EQ(config->alert_socket, "/run/farm/alerts.sock");
  EXPECT_EQ(config->console_dir, "/var/log/farm");
  EXPECT_EQ(config->stats_interval_s, 0u);
  ASSERT_TRUE(config->alert_webhook.has_value());
  EXPECT_EQ(config->alert_webhook->host, "192.0.2.7");
  EXPECT_EQ(config->alert_webhook->port, 8080);
  EXPECT_EQ(config->alert_webhook->target, "/hooks/farm?x=1");
  EXPECT_EQ(config->profiles[0].containment, Containment::kReflect);
  EXPECT_EQ(config->profiles[0].rate_limit_pps, 500u);
  EXPECT_EQ(config->profiles[0].rate_limit_burst, 50u) << "the default burst: a tenth of a second's worth";
  EXPECT_EQ(config->profiles[1].containment, Containment::kDrop);
  EXPECT_EQ(config->profiles[1].rate_limit_burst, 50u);
  EXPECT_FALSE(config->profiles[0].write_protect_text);
  EXPECT_TRUE(config->profiles[1].write_protect_text);
  auto no_port = http::parse_http_url("http://127.0.0.1");
  ASSERT_TRUE(no_port.ok());
  EXPECT_EQ(no_port->port, 80);
  EXPECT_EQ(no_port->target, "/");
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
           {farm_with(R"(, "alert_socket": "alerts.sock")"), "alert_socket: must be an absolute path"},
           {farm_with(R"(, "console_dir": "consoles")"), "console_dir: must be an absolute path"},
           {farm_with(R"(, "stats_interval_s": 7200)"), "stats_interval_s: 7200 is not from 0 to 3600"},
           {farm_with(R"(, "alert_webhook": "https://192.0.2.1/x")"), "alert_webhook: \"https://192.0.2.1/x\" is not a URL"},
           {farm_with(R"(, "alert_webhook": "http://alerts.example/x")"), "the host must be an IPv4 address"},
           {farm_with(R"(, "alert_webhook": "http://192.0.2.1:0/x")"), "the port must be 1-65535"},
           {farm_with(R"(, "alert_webhook": "http://192.0.2.1:99999/x")"), "the port must be 1-65535"},
           {farm_with(R"(, "alert_webhook": "http://192.0.2.1/a b")"), "a space or a control character"},
           {farm_with(R"(, "dns_sinkhole": "0.0.0.0")"), "dns_sinkhole: must be an address other than 0.0.0.0"},
           {farm_with(R"(, "dns_sinkhole": "sinkhole")"), "dns_sinkhole: 'sinkhole' is not an IPv4 address"},
           {R"({"outside_tap": "farm0", "range": "10.0.0.0/20", "profiles": [{"snapshot": "/s", "address": "10.0.0.2", "mac": "02:00:00:00:00:aa", "containment": "allow"}]})",
            "profiles[0].containment: \"allow\" is not a containment policy (drop, replies or reflect)"},
           {R"({"outside_tap": "farm0", "range": "10.0.0.0/20", "profiles": [{"snapshot": "/s", "address": "10.0.0.2", "mac": "02:00:00:00:00:aa", "rate_limit": {"burst": 5}}]})",
            "profiles[0].rate_limit: needs \"packets_per_s\""},
           {R"({"outside_tap": "farm0", "range": "10.0.0.0/20", "profiles": [{"snapshot": "/s", "address": "10.0.0.2", "mac": "02:00:00:00:00:aa", "write_protect_text": 1}]})",
            "profiles[0].write_protect_text: must be true or false"},
           {R"({"outside_tap": "farm0", "range": "10.0.0.0/20", "profiles": [{"snapshot": "/s", "address": "10.0.0.2", "mac": "02:00:00:00:00:aa", "rate_limit": {"packets_per_s": 0}}]})",
            "profiles[0].rate_limit.packets_per_s: 0 is not from 1 to 10000000"},
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
