#include "packet/udp_reply.h"

#include <cstring>

#include "packet/checksum.h"

namespace vmhive::packet {

size_t build_udp_reply(const ParsedFrame& request, std::span<const uint8_t> payload, std::span<uint8_t> out) {
  const size_t udp_length = 8 + payload.size();
  const size_t length = kEthernetHeader + 20 + udp_length;
  if (length > out.size() || udp_length > 0xffff - 20) return 0;
  uint8_t* frame = out.data();
  std::memcpy(frame, request.source_mac, 6);
  std::memcpy(frame + 6, request.destination_mac, 6);
  store16(frame + 12, kEtherTypeIpv4);
  uint8_t* ip = frame + kEthernetHeader;
  ip[0] = 0x45;
  ip[1] = 0;
  store16(ip + 2, static_cast<uint16_t>(20 + udp_length));
  store16(ip + 4, 0);
  store16(ip + 6, 0x4000);  // don't fragment
  ip[8] = 64;
  ip[9] = kProtocolUdp;
  store16(ip + 10, 0);
  store32(ip + 12, request.ip.destination);
  store32(ip + 16, request.ip.source);
  store16(ip + 10, finish_checksum(ones_sum(std::span<const uint8_t>(ip, 20))));
  uint8_t* udp = ip + 20;
  store16(udp, request.ip.destination_port);
  store16(udp + 2, request.ip.source_port);
  store16(udp + 4, static_cast<uint16_t>(udp_length));
  store16(udp + 6, 0);
  if (!payload.empty()) std::memcpy(udp + 8, payload.data(), payload.size());
  // The pseudo-header: both addresses, the protocol and the UDP length.
  uint32_t sum = ones_sum(std::span<const uint8_t>(ip + 12, 8));
  sum += kProtocolUdp + static_cast<uint32_t>(udp_length);
  const uint16_t checksum = finish_checksum(ones_sum(std::span<const uint8_t>(udp, udp_length), sum));
  store16(udp + 6, checksum == 0 ? 0xffff : checksum);
  return length;
}

}  // namespace vmhive::packet
