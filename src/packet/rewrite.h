// Address translation in place, as Potemkin's gateway does it: every clone
// of a snapshot keeps the snapshot's IP and MAC, and the gateway rewrites
// between the address the outside sees and the one inside, fixing the IPv4
// header checksum and the TCP or UDP checksum (whose pseudo-header covers
// the addresses) incrementally. The header an ICMP error quotes keeps the
// address it was sent with: it is not rewritten.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "packet/frame.h"

namespace vmhive::packet {

using MacAddress = std::array<uint8_t, 6>;

// `parsed` must be parse_frame(frame) of these very bytes, kind kIpv4.
void rewrite_ipv4_destination(std::span<uint8_t> frame, ParsedFrame& parsed, uint32_t destination);
void rewrite_ipv4_source(std::span<uint8_t> frame, ParsedFrame& parsed, uint32_t source);
void set_ethernet_addresses(std::span<uint8_t> frame, const MacAddress& destination, const MacAddress& source);

// The reply to an ARP request for `request.target_ip`, from `mac`, into
// `out` (at least kArpReplyLength bytes); returns its length.
inline constexpr size_t kArpReplyLength = 60;  // 42 bytes padded to Ethernet's minimum
size_t build_arp_reply(const ArpView& request, const MacAddress& mac, std::span<uint8_t> out);

}  // namespace vmhive::packet
