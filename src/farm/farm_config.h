// A honeyfarm's configuration (`vmhive farm CONFIG`, docs/farm.md): the
// outside link, the address range answered, the clone budget, and service
// profiles (a snapshot of a guest serving some ports, the address and MAC
// it was snapshotted with, how many clones are kept ready, how long an idle
// clone lives). Parsed strictly: unknown members, wrong types and values out
// of range are one error line naming the member.
#pragma once

#include <chrono>
#include <optional>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "farm/address_table.h"
#include "farm/containment.h"
#include "http/http_client.h"
#include "packet/rewrite.h"

namespace vmhive::farm {

struct ServiceProfile {
  std::string name;
  std::string snapshot;          // a snapshot directory with one virtio-net device
  uint32_t inside_address = 0;   // the guest's address in the snapshot
  packet::MacAddress inside_mac{};  // its MAC in the snapshot
  std::vector<uint16_t> ports;   // TCP/UDP ports it serves: picks the profile for a new address
  std::chrono::seconds idle_timeout{60};
  unsigned ready = 4;            // clones kept restored and held, ready for a new address
  Containment containment = Containment::kReplies;  // what becomes of what a clone starts
  uint32_t rate_limit_pps = 0;   // packets a clone may send a second (0: no limit)
  uint32_t rate_limit_burst = 0; // of which at once (default: the rate's tenth, at least 1)
  bool write_protect_text = false;  // clones restored with --write-protect-text: a text write is a breach
};

struct FarmConfig {
  std::string outside_tap;  // the outside link: a tap the farm opens (or creates)
  AddressRange range;
  packet::MacAddress gateway_mac{0x02, 0x76, 0x68, 0x00, 0x00, 0x01};  // answers ARP for every address
  size_t budget = 1000;     // live clones at most; past it the least recently active is evicted
  std::vector<ServiceProfile> profiles;
  // Where breached clones are snapshotted (and their control sockets live);
  // empty: a breached clone is only contained, as every clone is.
  std::string forensics_dir;
  // Where each clone's console goes (clone-<N>.log, at most 1 MiB each;
  // kept for breached clones, removed with the others); empty: discarded.
  std::string console_dir;
  // A "stats" event (live and held clones, the counters) this often; 0: never.
  uint32_t stats_interval_s = 1;
  // DNS queries from clones are answered by the gateway with this address
  // for every name (host order; 0: none, a query is traffic like any other).
  uint32_t dns_sinkhole = 0;
  // Where breach alerts go besides stdout (docs/farm.md).
  std::string alert_socket;
  std::optional<http::HttpUrl> alert_webhook;

  static constexpr size_t kMaxBudget = 65536;
  static constexpr unsigned kMaxReady = 256;
  static constexpr size_t kMaxConfigBytes = 64 * 1024;
};

Result<FarmConfig> farm_config_from_json(std::string_view text);

// The profile that serves a new address whose first packet is for `port`
// (0 for ICMP): the first that lists the port, else the first.
unsigned profile_for_port(const FarmConfig& config, uint16_t port);

}  // namespace vmhive::farm
