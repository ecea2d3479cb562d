// What a clone may send, and what it remembers to decide: the policy a
// profile sets for a clone's traffic that is not a reply, the flows that
// reached the clone (so its replies can be told from what it starts), and a
// token bucket that bounds how fast it sends. All of it fixed-size and
// allocation-free: the gateway consults it for every frame a clone sends.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/result.h"
#include "farm/address_table.h"

namespace vmhive::farm {

// What happens to a clone's packet that is not a reply to a flow that
// reached it (replies always go back to whoever started the flow).
enum class Containment {
  kDrop,     // nothing of the clone's leaves, not even replies: a telescope that only listens
  kReplies,  // only replies leave: nothing the clone starts does (the default)
  kReflect,  // what the clone starts is answered inside the farm: the destination gets a clone of its own
};
Result<Containment> containment_from_name(std::string_view name);
const char* containment_name(Containment containment);

// A flow as the clone sees it: the remote end and its own port.
struct FlowKey {
  uint32_t remote = 0;
  uint16_t remote_port = 0;  // ICMP: the echo identifier
  uint16_t local_port = 0;
  uint8_t protocol = 0;
  bool operator==(const FlowKey&) const = default;
};

// Who started a flow that reached a clone: the outside (0) or another clone
// whose packet was reflected to it (its id).
using FlowOrigin = CloneId;
inline constexpr FlowOrigin kFromOutside = 0;

// The most recent flows that reached one clone, with who started each. A
// packet of the clone's is a reply if it belongs to one of them; a TCP
// segment without SYN also if it goes to an address that reached the clone,
// from the port it reached (a server's data on a connection a flood pushed
// out of memory: such a segment cannot open anything). Nothing else: a SYN,
// a datagram or an echo request to anywhere else is something the clone
// started.
class FlowMemory {
 public:
  static constexpr size_t kFlows = 256;

  // Notes a flow that reached the clone; true if it was not known.
  bool note_inbound(const FlowKey& flow, FlowOrigin origin) {
    for (size_t i = 0; i < count_; ++i) {
      if (flows_[i].key == flow) {
        flows_[i].origin = origin;
        return false;
      }
    }
    flows_[next_] = {flow, origin};
    next_ = (next_ + 1) % kFlows;
    count_ = std::min(count_ + 1, kFlows);
    return true;
  }
  // Who started the flow `flow` is a reply to; nothing if it is not a reply.
  // `tcp_without_syn`: the packet is a TCP segment without SYN.
  std::optional<FlowOrigin> origin_of_reply(const FlowKey& flow, bool tcp_without_syn = false) const {
    std::optional<FlowOrigin> same_client;
    for (size_t i = 0; i < count_; ++i) {
      const FlowKey& known = flows_[i].key;
      if (known == flow) return flows_[i].origin;
      if (tcp_without_syn && !same_client && known.remote == flow.remote && known.local_port == flow.local_port &&
          known.protocol == flow.protocol)
        same_client = flows_[i].origin;
    }
    return same_client;
  }

 private:
  struct Entry {
    FlowKey key;
    FlowOrigin origin = kFromOutside;
  };
  std::array<Entry, kFlows> flows_{};
  size_t count_ = 0, next_ = 0;
};

// A token bucket: `rate` packets a second on average, `burst` at once; a
// rate of 0 is no limit.
class RateLimit {
 public:
  using Clock = std::chrono::steady_clock;
  RateLimit() = default;
  RateLimit(uint32_t rate, uint32_t burst, Clock::time_point now)
      : rate_(rate), burst_(std::max(burst, 1u)), tokens_(burst_), last_(now) {}

  // Whether one more packet may go at `now` (taking its token if so).
  bool allow(Clock::time_point now) {
    if (rate_ == 0) return true;
    // At most a full bucket's worth of time counts (and elapsed * rate cannot overflow).
    const auto elapsed = std::min<int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - last_).count(),
                                           int64_t{burst_} * 1'000'000'000 / rate_ + 1'000'000'000);
    if (elapsed > 0) {
      // Whole tokens earned since the last refill; the remainder of time is kept.
      const uint64_t earned = static_cast<uint64_t>(elapsed) * rate_ / 1'000'000'000u;
      if (earned > 0) {
        tokens_ = static_cast<uint32_t>(std::min<uint64_t>(burst_, tokens_ + earned));
        last_ += std::chrono::nanoseconds(earned * 1'000'000'000u / rate_);
        if (tokens_ == burst_) last_ = now;
      }
    }
    if (tokens_ == 0) return false;
    --tokens_;
    return true;
  }

 private:
  uint32_t rate_ = 0, burst_ = 1, tokens_ = 0;
  Clock::time_point last_{};
};

}  // namespace vmhive::farm
