// The honeyfarm's gateway (`vmhive farm CONFIG`, docs/farm.md): a userspace
// packet path between the outside link (a tap) and the clones, and the event
// loop that runs the farm. Each clone's virtio-net device is a socket pair
// end the gateway holds: no tap, bridge or CAP_NET_ADMIN per clone. The
// clones themselves, held, let go, ended and reaped, and a breached one's
// forensic snapshot, are the fleet's (farm/clone_fleet.h).
//
// The gateway answers ARP for every address of its range with its own MAC.
// The first IPv4 packet to an address without a clone takes a held clone of
// the profile serving that port, lets it run and binds it to the address;
// later packets to the address go to the same clone. Every clone keeps the
// snapshot's address and MAC: the gateway rewrites the destination on the
// way in and the source on the way out (packet/rewrite.h). Idle clones are
// reclaimed after their profile's timeout, and past the budget the least
// recently active is evicted. Containment (farm/containment.h): a clone's
// packet reaches the outside only if it belongs to a flow the outside
// started (a reply); what the clone starts is dropped and reported as a
// "contained" event, or with the profile's `reflect` answered by a clone of
// the destination, and DNS queries may be answered by a sinkhole. A clone
// that does what a clean one does not (it connects out, listens on a new
// port, spoofs its source, writes its protected kernel text) is a breach.
//
// Events are JSON lines on stdout (farm/farm_events.h): the gateway's are
// "bound", "reclaimed", "evicted", "contained", "reflected", "dns" and
// "breach"; SIGINT or SIGTERM ends the farm and every clone, with a
// "stopped" line that carries the counters.
#pragma once

#include <string>

#include "common/result.h"
#include "farm/farm_config.h"

namespace vmhive::farm {

// Runs the farm until SIGINT or SIGTERM; `vmhive_binary` restores the clones.
Result<void> run_gateway(const FarmConfig& config, const std::string& vmhive_binary);

}  // namespace vmhive::farm
