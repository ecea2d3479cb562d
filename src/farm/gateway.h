// The honeyfarm's gateway (`vmhive farm CONFIG`, docs/farm.md): a userspace
// packet path between the outside link (a tap) and the clones, each of which
// is a `vmhive restore` of a profile's snapshot whose virtio-net device is a
// socket pair end the gateway holds (--net fd=3): no tap, bridge or
// CAP_NET_ADMIN per clone.
//
// The gateway answers ARP for every address of its range with its own MAC.
// The first IPv4 packet to an address without a clone takes a held clone of
// the profile serving that port, lets it run and binds it to the address;
// later packets to the address go to the same clone. Every clone keeps the
// snapshot's address and MAC: the gateway rewrites the destination on the
// way in and the source on the way out (packet/rewrite.h). Idle clones are
// reclaimed after their profile's timeout, and past the budget the least
// recently active is evicted. Containment: a clone's packet reaches the
// outside only if it belongs to a flow the outside started (a reply);
// anything else is dropped and reported as a "contained" event.
//
// Events are JSON lines on stdout ("ready", "bound", "reclaimed",
// "evicted", "contained", "clone_failed"); SIGINT or SIGTERM ends the farm
// and every clone, with a "stopped" line that carries the counters.
#pragma once

#include <string>

#include "common/result.h"
#include "farm/farm_config.h"

namespace vmhive::farm {

// Runs the farm until SIGINT or SIGTERM; `vmhive_binary` restores the clones.
Result<void> run_gateway(const FarmConfig& config, const std::string& vmhive_binary);

}  // namespace vmhive::farm
