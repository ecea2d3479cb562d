// IPv4 frames built for tests, every checksum computed over the whole (the
// pseudo-header included), and a from-scratch check of them: an oracle that
// does not use the incremental updates it is there to check.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "packet/checksum.h"
#include "packet/frame.h"

namespace vmhive::testing {

constexpr uint32_t ipv4_address(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return static_cast<uint32_t>(a) << 24 | static_cast<uint32_t>(b) << 16 | static_cast<uint32_t>(c) << 8 | d;
}

struct FrameSpec {
  uint8_t protocol = packet::kProtocolTcp;
  uint32_t source = 0, destination = 0;
  uint16_t source_port = 0, destination_port = 0;  // ICMP: source_port is the echo identifier
  uint8_t tcp_flags = 0x02;                        // SYN
  uint32_t sequence = 0, acknowledgement = 0;
  std::vector<uint8_t> payload;
  bool udp_checksum = true;
  uint8_t destination_mac[6] = {0x02, 0x02, 0x02, 0x02, 0x02, 0x02};
  uint8_t source_mac[6] = {0x02, 0x04, 0x04, 0x04, 0x04, 0x04};
};

inline uint16_t transport_sum(uint32_t source, uint32_t destination, uint8_t protocol, const uint8_t* segment,
                              size_t length) {
  uint8_t pseudo[12];
  packet::store32(pseudo, source);
  packet::store32(pseudo + 4, destination);
  pseudo[8] = 0;
  pseudo[9] = protocol;
  packet::store16(pseudo + 10, static_cast<uint16_t>(length));
  return packet::finish_checksum(packet::ones_sum(std::span(segment, length), packet::ones_sum(pseudo)));
}

inline std::vector<uint8_t> build_frame(const FrameSpec& spec) {
  using namespace packet;
  const size_t transport = spec.protocol == kProtocolTcp ? 20 : 8;
  const size_t l4_length = transport + spec.payload.size();
  std::vector<uint8_t> frame(kEthernetHeader + 20 + l4_length, 0);
  std::memcpy(frame.data(), spec.destination_mac, 6);
  std::memcpy(frame.data() + 6, spec.source_mac, 6);
  store16(&frame[12], kEtherTypeIpv4);
  uint8_t* header = &frame[kEthernetHeader];
  header[0] = 0x45;
  store16(header + 2, static_cast<uint16_t>(20 + l4_length));
  store16(header + 6, 0x4000);  // don't fragment
  header[8] = 64;
  header[9] = spec.protocol;
  store32(header + 12, spec.source);
  store32(header + 16, spec.destination);
  store16(header + 10, finish_checksum(ones_sum(std::span(header, 20))));
  uint8_t* l4 = header + 20;
  std::memcpy(l4 + transport, spec.payload.data(), spec.payload.size());
  if (spec.protocol == kProtocolIcmp) {
    l4[0] = 8;  // echo request
    store16(l4 + 4, spec.source_port);
    store16(l4 + 6, 1);
    store16(l4 + 2, finish_checksum(ones_sum(std::span(l4, l4_length))));
    return frame;
  }
  store16(l4, spec.source_port);
  store16(l4 + 2, spec.destination_port);
  if (spec.protocol == kProtocolTcp) {
    store32(l4 + 4, spec.sequence);
    store32(l4 + 8, spec.acknowledgement);
    l4[12] = 5 << 4;
    l4[13] = spec.tcp_flags;
    store16(l4 + 14, 65535);
    store16(l4 + 16, transport_sum(spec.source, spec.destination, spec.protocol, l4, l4_length));
    return frame;
  }
  store16(l4 + 4, static_cast<uint16_t>(l4_length));
  if (!spec.udp_checksum) return frame;
  const uint16_t checksum = transport_sum(spec.source, spec.destination, spec.protocol, l4, l4_length);
  store16(l4 + 6, checksum == 0 ? 0xffff : checksum);
  return frame;
}

// Whether the IPv4 header and the TCP, UDP or ICMP checksum all hold,
// computed from scratch (a UDP datagram without a checksum holds).
inline bool checksums_hold(std::span<const uint8_t> frame) {
  using namespace packet;
  if (frame.size() < kEthernetHeader + 20) return false;
  const uint8_t* header = &frame[kEthernetHeader];
  const size_t header_length = size_t{header[0] & 0x0fu} * 4;
  const size_t total = load16(header + 2);
  if (total < header_length || kEthernetHeader + total > frame.size()) return false;
  if (finish_checksum(ones_sum(std::span(header, header_length))) != 0) return false;
  const uint8_t protocol = header[9];
  const size_t l4_length = total - header_length;
  const uint8_t* l4 = header + header_length;
  if (protocol == kProtocolIcmp) return finish_checksum(ones_sum(std::span(l4, l4_length))) == 0;
  if (protocol == kProtocolUdp && l4_length >= 8 && load16(l4 + 6) == 0) return true;
  return transport_sum(load32(header + 12), load32(header + 16), protocol, l4, l4_length) == 0;
}

}  // namespace vmhive::testing
