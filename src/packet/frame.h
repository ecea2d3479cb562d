// What a honeyfarm's gateway reads in an Ethernet frame: the Ethernet
// header, then ARP, or IPv4 with TCP, UDP or ICMP. Parsing only records
// where things are (offsets into the caller's bytes) after checking every
// length against the frame, so a hostile frame can make it say "no" but
// never read outside the buffer or allocate. What it does not take (IPv6,
// VLAN tags, IP options it cannot skip, fragments) is a reason, counted by
// the caller; a fragment's first piece too, since flows are found by ports.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace vmhive::packet {

inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr size_t kEthernetHeader = 14;
inline constexpr uint8_t kProtocolIcmp = 1;
inline constexpr uint8_t kProtocolTcp = 6;
inline constexpr uint8_t kProtocolUdp = 17;

enum class FrameKind { kArp, kIpv4 };

// Why a frame was not taken.
enum class Refusal {
  kNone,
  kRunt,                // shorter than the headers it claims
  kUnknownEtherType,    // not ARP or IPv4 (IPv6, VLAN-tagged, ...)
  kBadArp,              // not Ethernet/IPv4 ARP, or an operation other than request or reply
  kBadIpHeader,         // version, header length or total length that do not fit
  kBadIpChecksum,
  kFragment,            // a piece of a fragmented datagram (the first included)
  kUnknownProtocol,     // IPv4 carrying something other than TCP, UDP or ICMP
  kBadTransportHeader,  // a TCP or UDP header that does not fit the datagram
};
const char* refusal_name(Refusal refusal);  // "runt", "bad_ip_checksum", ... (metric labels)

struct ArpView {
  uint16_t operation = 0;  // 1 request, 2 reply
  uint8_t sender_mac[6]{};
  uint32_t sender_ip = 0;  // host order
  uint8_t target_mac[6]{};
  uint32_t target_ip = 0;
};

struct Ipv4View {
  size_t offset = kEthernetHeader;  // of the IP header in the frame
  size_t header_length = 20;
  size_t total_length = 0;          // of the datagram, from its header (the frame may carry padding after it)
  uint8_t protocol = 0;
  uint8_t ttl = 0;
  uint32_t source = 0;       // host order
  uint32_t destination = 0;  // host order
  // The transport header, at offset + header_length.
  uint16_t source_port = 0;       // TCP and UDP; for ICMP echo, the identifier
  uint16_t destination_port = 0;  // TCP and UDP; 0 for ICMP
  uint8_t tcp_flags = 0;          // FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10
  uint8_t icmp_type = 0, icmp_code = 0;
  size_t transport_offset() const { return offset + header_length; }
  size_t transport_length() const { return total_length - header_length; }
};

struct ParsedFrame {
  Refusal refusal = Refusal::kNone;
  FrameKind kind = FrameKind::kIpv4;
  const uint8_t* destination_mac = nullptr;  // into the frame
  const uint8_t* source_mac = nullptr;
  ArpView arp;
  Ipv4View ip;
  bool ok() const { return refusal == Refusal::kNone; }
};

ParsedFrame parse_frame(std::span<const uint8_t> frame);

// Whether the TCP, UDP or ICMP checksum of a parsed IPv4 frame holds (a UDP
// datagram sent without one holds). A pass over the payload: for checks and
// tests, not for every packet.
bool transport_checksum_intact(std::span<const uint8_t> frame, const ParsedFrame& parsed);

// Big-endian reads and writes at an offset the caller has checked.
inline uint16_t load16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t load32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 | p[3];
}
inline void store16(uint8_t* p, uint16_t value) {
  p[0] = static_cast<uint8_t>(value >> 8);
  p[1] = static_cast<uint8_t>(value);
}
inline void store32(uint8_t* p, uint32_t value) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(value >> (24 - 8 * i));
}

}  // namespace vmhive::packet
