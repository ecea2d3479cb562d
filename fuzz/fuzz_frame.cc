// A hostile network sends the gateway anything: parse_frame must refuse what
// it cannot take without reading past the frame, and rewriting a frame it
// took must keep intact checksums intact (both directions).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "packet/frame.h"
#include "packet/rewrite.h"
#include "packet/udp_reply.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vmhive::packet;
  // An exact-size copy, so a read past the end is AddressSanitizer's to see.
  std::vector<uint8_t> frame(data, data + size);
  ParsedFrame parsed = parse_frame(frame);
  if (!parsed.ok()) return 0;
  if (parsed.kind == FrameKind::kArp) {
    uint8_t reply[kArpReplyLength];
    if (build_arp_reply(parsed.arp, MacAddress{2, 0, 0, 0, 0, 1}, reply) != kArpReplyLength) __builtin_trap();
    if (!parse_frame(reply).ok()) __builtin_trap();
    return 0;
  }
  if (parsed.ip.protocol == kProtocolUdp) {  // the gateway's own answer to it (the DNS sinkhole's)
    std::vector<uint8_t> reply(kUdpReplyHeaders + 16);
    const uint8_t payload[16] = {1, 2, 3};
    if (build_udp_reply(parsed, payload, reply) != reply.size()) __builtin_trap();
    const ParsedFrame answer = parse_frame(reply);
    if (!answer.ok() || !transport_checksum_intact(reply, answer)) __builtin_trap();
  }
  const bool intact = transport_checksum_intact(frame, parsed);
  const uint32_t inside = 0xc0a80102;
  rewrite_ipv4_destination(frame, parsed, inside);
  ParsedFrame again = parse_frame(frame);
  if (!again.ok() || again.ip.destination != inside) __builtin_trap();  // the IP checksum must still hold
  if (intact && !transport_checksum_intact(frame, again)) __builtin_trap();
  rewrite_ipv4_source(frame, again, 0x0a000001);
  ParsedFrame third = parse_frame(frame);
  if (!third.ok() || third.ip.source != 0x0a000001) __builtin_trap();
  if (intact && !transport_checksum_intact(frame, third)) __builtin_trap();
  return 0;
}
