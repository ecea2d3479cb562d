#include "packet/frame.h"

#include <cstring>

#include "packet/checksum.h"

namespace vmhive::packet {
namespace {

constexpr size_t kArpLength = 28;  // Ethernet/IPv4 ARP
constexpr uint16_t kMoreFragments = 0x2000;
constexpr uint16_t kFragmentOffset = 0x1fff;
constexpr size_t kTcpMinimum = 20;
constexpr size_t kUdpHeader = 8;
constexpr size_t kIcmpMinimum = 8;  // type, code, checksum and the echo identifier and sequence

ParsedFrame refused(ParsedFrame parsed, Refusal why) {
  parsed.refusal = why;
  return parsed;
}

ParsedFrame parse_arp(std::span<const uint8_t> frame, ParsedFrame parsed) {
  parsed.kind = FrameKind::kArp;
  if (frame.size() < kEthernetHeader + kArpLength) return refused(parsed, Refusal::kRunt);
  const uint8_t* arp = frame.data() + kEthernetHeader;
  if (load16(arp) != 1 || load16(arp + 2) != kEtherTypeIpv4 || arp[4] != 6 || arp[5] != 4)
    return refused(parsed, Refusal::kBadArp);
  parsed.arp.operation = load16(arp + 6);
  if (parsed.arp.operation != 1 && parsed.arp.operation != 2) return refused(parsed, Refusal::kBadArp);
  std::memcpy(parsed.arp.sender_mac, arp + 8, 6);
  parsed.arp.sender_ip = load32(arp + 14);
  std::memcpy(parsed.arp.target_mac, arp + 18, 6);
  parsed.arp.target_ip = load32(arp + 24);
  return parsed;
}

ParsedFrame parse_ipv4(std::span<const uint8_t> frame, ParsedFrame parsed) {
  parsed.kind = FrameKind::kIpv4;
  Ipv4View& ip = parsed.ip;
  if (frame.size() < kEthernetHeader + 20) return refused(parsed, Refusal::kRunt);
  const uint8_t* header = frame.data() + kEthernetHeader;
  if ((header[0] >> 4) != 4) return refused(parsed, Refusal::kBadIpHeader);
  ip.header_length = size_t{header[0] & 0x0fu} * 4;
  ip.total_length = load16(header + 2);
  if (ip.header_length < 20 || ip.total_length < ip.header_length) return refused(parsed, Refusal::kBadIpHeader);
  if (kEthernetHeader + ip.total_length > frame.size()) return refused(parsed, Refusal::kRunt);
  if (finish_checksum(ones_sum(std::span(header, ip.header_length))) != 0)
    return refused(parsed, Refusal::kBadIpChecksum);
  const uint16_t fragment = load16(header + 6);
  if ((fragment & kMoreFragments) != 0 || (fragment & kFragmentOffset) != 0) return refused(parsed, Refusal::kFragment);
  ip.ttl = header[8];
  ip.protocol = header[9];
  ip.source = load32(header + 12);
  ip.destination = load32(header + 16);
  const uint8_t* transport = header + ip.header_length;
  const size_t length = ip.transport_length();
  switch (ip.protocol) {
    case kProtocolTcp: {
      if (length < kTcpMinimum) return refused(parsed, Refusal::kBadTransportHeader);
      const size_t data_offset = static_cast<size_t>(transport[12] >> 4) * 4;
      if (data_offset < kTcpMinimum || data_offset > length) return refused(parsed, Refusal::kBadTransportHeader);
      ip.source_port = load16(transport);
      ip.destination_port = load16(transport + 2);
      ip.tcp_flags = transport[13];
      return parsed;
    }
    case kProtocolUdp: {
      if (length < kUdpHeader) return refused(parsed, Refusal::kBadTransportHeader);
      const uint16_t udp_length = load16(transport + 4);
      if (udp_length < kUdpHeader || udp_length > length) return refused(parsed, Refusal::kBadTransportHeader);
      ip.source_port = load16(transport);
      ip.destination_port = load16(transport + 2);
      return parsed;
    }
    case kProtocolIcmp: {
      if (length < kIcmpMinimum) return refused(parsed, Refusal::kBadTransportHeader);
      ip.icmp_type = transport[0];
      ip.icmp_code = transport[1];
      ip.source_port = load16(transport + 4);  // the echo identifier: ICMP's "port" for flows
      return parsed;
    }
    default: return refused(parsed, Refusal::kUnknownProtocol);
  }
}

}  // namespace

const char* refusal_name(Refusal refusal) {
  switch (refusal) {
    case Refusal::kNone: return "none";
    case Refusal::kRunt: return "runt";
    case Refusal::kUnknownEtherType: return "unknown_ethertype";
    case Refusal::kBadArp: return "bad_arp";
    case Refusal::kBadIpHeader: return "bad_ip_header";
    case Refusal::kBadIpChecksum: return "bad_ip_checksum";
    case Refusal::kFragment: return "fragment";
    case Refusal::kUnknownProtocol: return "unknown_protocol";
    case Refusal::kBadTransportHeader: return "bad_transport_header";
  }
  return "unknown";
}

bool transport_checksum_intact(std::span<const uint8_t> frame, const ParsedFrame& parsed) {
  const Ipv4View& ip = parsed.ip;
  const std::span<const uint8_t> segment = frame.subspan(ip.transport_offset(), ip.transport_length());
  if (ip.protocol == kProtocolIcmp) return finish_checksum(ones_sum(segment)) == 0;
  if (ip.protocol == kProtocolUdp && load16(segment.data() + 6) == 0) return true;
  uint8_t pseudo[12];
  store32(pseudo, ip.source);
  store32(pseudo + 4, ip.destination);
  pseudo[8] = 0;
  pseudo[9] = ip.protocol;
  store16(pseudo + 10, static_cast<uint16_t>(segment.size()));
  return finish_checksum(ones_sum(segment, ones_sum(pseudo))) == 0;
}

ParsedFrame parse_frame(std::span<const uint8_t> frame) {
  ParsedFrame parsed;
  if (frame.size() < kEthernetHeader) return refused(parsed, Refusal::kRunt);
  parsed.destination_mac = frame.data();
  parsed.source_mac = frame.data() + 6;
  switch (load16(frame.data() + 12)) {
    case kEtherTypeArp: return parse_arp(frame, parsed);
    case kEtherTypeIpv4: return parse_ipv4(frame, parsed);
    default: return refused(parsed, Refusal::kUnknownEtherType);
  }
}

}  // namespace vmhive::packet
