// A UDP datagram sent back the way a parsed one came (addresses and ports
// swapped), carrying a payload of the caller's: how the gateway answers a
// clone itself (its DNS sinkhole). Checksums are computed in full.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "packet/frame.h"

namespace vmhive::packet {

inline constexpr size_t kUdpReplyHeaders = kEthernetHeader + 20 + 8;

// The reply to `request` (parsed, a UDP datagram) in `out`; its length, or
// 0 if `out` cannot hold it. MACs are swapped too.
size_t build_udp_reply(const ParsedFrame& request, std::span<const uint8_t> payload, std::span<uint8_t> out);

}  // namespace vmhive::packet
