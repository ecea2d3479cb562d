#include "farm/farm_config.h"

#include <algorithm>

#include "config/device_options.h"
#include "config/json_fields.h"

namespace vmhive::farm {
namespace {

using config::json;

Result<packet::MacAddress> mac_of(const json& value, const std::string& path) {
  const std::string text = VMHIVE_TRY(config::string_of(value, path));
  return config::parse_mac(text, path);
}

Result<uint32_t> address_of(const json& value, const std::string& path) {
  const std::string text = VMHIVE_TRY(config::string_of(value, path));
  auto address = parse_ipv4(text);
  if (!address.ok()) return with_context(path, address.error());
  return *address;
}

Result<void> rate_limit_of(const json& value, const std::string& where, ServiceProfile& profile) {
  bool has_rate = false;
  VMHIVE_CHECK(config::members_of(
      value, where, {"packets_per_s", "burst"},
      [&](const std::string& key, const json& member, const std::string& path) -> Result<void> {
        if (key == "packets_per_s") {
          profile.rate_limit_pps = static_cast<uint32_t>(VMHIVE_TRY(config::uint_of(member, path, 1, 10'000'000)));
          has_rate = true;
        }
        if (key == "burst") profile.rate_limit_burst = static_cast<uint32_t>(VMHIVE_TRY(config::uint_of(member, path, 1, 1'000'000)));
        return {};
      }));
  if (!has_rate) return config::bad(where, "needs \"packets_per_s\"");
  if (profile.rate_limit_burst == 0) profile.rate_limit_burst = std::max<uint32_t>(1, profile.rate_limit_pps / 10);
  return {};
}

Result<ServiceProfile> profile_of(const json& value, const std::string& where) {
  ServiceProfile profile;
  bool has_snapshot = false, has_address = false, has_mac = false;
  VMHIVE_CHECK(config::members_of(
      value, where,
      {"name", "snapshot", "address", "mac", "ports", "idle_timeout_s", "ready", "containment", "rate_limit",
       "write_protect_text"},
      [&](const std::string& key, const json& member, const std::string& path) -> Result<void> {
        if (key == "name") profile.name = VMHIVE_TRY(config::string_of(member, path));
        if (key == "snapshot") {
          profile.snapshot = VMHIVE_TRY(config::string_of(member, path));
          has_snapshot = !profile.snapshot.empty();
        }
        if (key == "address") {
          profile.inside_address = VMHIVE_TRY(address_of(member, path));
          has_address = true;
        }
        if (key == "mac") {
          profile.inside_mac = VMHIVE_TRY(mac_of(member, path));
          has_mac = true;
        }
        if (key == "ports") {
          if (!member.is_array() || member.size() > 64) return config::bad(path, "must be a list of at most 64 ports");
          for (size_t i = 0; i < member.size(); ++i)
            profile.ports.push_back(static_cast<uint16_t>(
                VMHIVE_TRY(config::uint_of(member[i], path + "[" + std::to_string(i) + "]", 1, 65535))));
        }
        if (key == "idle_timeout_s")
          profile.idle_timeout = std::chrono::seconds(VMHIVE_TRY(config::uint_of(member, path, 1, 86400)));
        if (key == "ready") profile.ready = VMHIVE_TRY(config::uint_of(member, path, 1, FarmConfig::kMaxReady));
        if (key == "containment") {
          auto policy = containment_from_name(VMHIVE_TRY(config::string_of(member, path)));
          if (!policy.ok()) return with_context(path, policy.error());
          profile.containment = *policy;
        }
        if (key == "write_protect_text") {
          if (!member.is_boolean()) return config::bad(path, "must be true or false");
          profile.write_protect_text = member.get<bool>();
        }
        if (key == "rate_limit")
          if (auto limited = rate_limit_of(member, path, profile); !limited.ok()) return limited.error();
        return {};
      }));
  if (!has_snapshot) return config::bad(where, "needs \"snapshot\" (a snapshot directory)");
  if (!has_address) return config::bad(where, "needs \"address\" (the guest's IPv4 address in the snapshot)");
  if (!has_mac) return config::bad(where, "needs \"mac\" (the guest's MAC in the snapshot)");
  if (profile.name.empty()) profile.name = where;
  return profile;
}

}  // namespace

Result<FarmConfig> farm_config_from_json(std::string_view text) {
  if (text.size() > FarmConfig::kMaxConfigBytes) return make_error("the farm configuration is larger than 64 KiB");
  const json document = json::parse(text.begin(), text.end(), nullptr, false);
  if (document.is_discarded()) return make_error("the farm configuration is not valid JSON");
  FarmConfig farm;
  bool has_range = false;
  VMHIVE_CHECK(config::members_of(
      document, "", {"outside_tap", "range", "gateway_mac", "budget", "profiles", "forensics_dir", "dns_sinkhole", "alert_socket",
                 "alert_webhook", "console_dir", "stats_interval_s"},
      [&](const std::string& key, const json& member, const std::string& path) -> Result<void> {
        if (key == "outside_tap") {
          farm.outside_tap = VMHIVE_TRY(config::string_of(member, path));
          if (auto named = config::check_tap_name(farm.outside_tap, path); !named.ok()) return named.error();
        }
        if (key == "range") {
          const std::string range = VMHIVE_TRY(config::string_of(member, path));
          auto parsed = AddressRange::parse(range);
          if (!parsed.ok()) return with_context(path, parsed.error());
          farm.range = *parsed;
          has_range = true;
        }
        if (key == "gateway_mac") farm.gateway_mac = VMHIVE_TRY(mac_of(member, path));
        if (key == "forensics_dir") {
          farm.forensics_dir = VMHIVE_TRY(config::string_of(member, path));
          if (farm.forensics_dir.empty() || farm.forensics_dir.front() != '/')
            return config::bad(path, "must be an absolute path");
        }
        if (key == "console_dir") {
          farm.console_dir = VMHIVE_TRY(config::string_of(member, path));
          if (farm.console_dir.empty() || farm.console_dir.front() != '/')
            return config::bad(path, "must be an absolute path");
        }
        if (key == "stats_interval_s") farm.stats_interval_s = VMHIVE_TRY(config::uint_of(member, path, 0, 3600));
        if (key == "dns_sinkhole") {
          farm.dns_sinkhole = VMHIVE_TRY(address_of(member, path));
          if (farm.dns_sinkhole == 0) return config::bad(path, "must be an address other than 0.0.0.0");
        }
        if (key == "alert_socket") {
          farm.alert_socket = VMHIVE_TRY(config::string_of(member, path));
          if (farm.alert_socket.empty() || farm.alert_socket.front() != '/')
            return config::bad(path, "must be an absolute path");
        }
        if (key == "alert_webhook") {
          auto url = http::parse_http_url(VMHIVE_TRY(config::string_of(member, path)));
          if (!url.ok()) return with_context(path, url.error());
          farm.alert_webhook = *url;
        }
        if (key == "budget") farm.budget = VMHIVE_TRY(config::uint_of(member, path, 1, FarmConfig::kMaxBudget));
        if (key == "profiles") {
          if (!member.is_array() || member.empty() || member.size() > 16)
            return config::bad(path, "must be a list of 1 to 16 service profiles");
          for (size_t i = 0; i < member.size(); ++i)
            farm.profiles.push_back(VMHIVE_TRY(profile_of(member[i], path + "[" + std::to_string(i) + "]")));
        }
        return {};
      }));
  if (farm.outside_tap.empty()) return make_error("outside_tap: the farm needs its outside link (a tap's name)");
  if (!has_range) return make_error("range: the farm needs the address range it answers (like 10.0.0.0/20)");
  if (farm.profiles.empty()) return make_error("profiles: the farm needs at least one service profile");
  return farm;
}

unsigned profile_for_port(const FarmConfig& config, uint16_t port) {
  for (unsigned i = 0; i < config.profiles.size(); ++i)
    for (uint16_t served : config.profiles[i].ports)
      if (served == port) return i;
  return 0;
}

}  // namespace vmhive::farm
