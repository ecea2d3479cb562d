#include "packet/rewrite.h"

#include <algorithm>
#include <cstring>

#include "packet/checksum.h"

namespace vmhive::packet {
namespace {

constexpr size_t kIpChecksum = 10;
constexpr size_t kIpSource = 12;
constexpr size_t kIpDestination = 16;
constexpr size_t kTcpChecksum = 16;
constexpr size_t kUdpChecksum = 6;

// One address of the datagram from `old_value` to `new_value`, with the
// checksums that cover it.
void rewrite_address(std::span<uint8_t> frame, const Ipv4View& ip, size_t field, uint32_t old_value,
                     uint32_t new_value) {
  uint8_t* header = frame.data() + ip.offset;
  store32(header + field, new_value);
  store16(header + kIpChecksum, update_checksum32(load16(header + kIpChecksum), old_value, new_value));
  uint8_t* transport = frame.data() + ip.transport_offset();
  if (ip.protocol == kProtocolTcp) {
    store16(transport + kTcpChecksum, update_checksum32(load16(transport + kTcpChecksum), old_value, new_value));
  } else if (ip.protocol == kProtocolUdp) {
    const uint16_t checksum = load16(transport + kUdpChecksum);
    if (checksum == 0) return;  // the sender computed none: there is none to keep right
    const uint16_t updated = update_checksum32(checksum, old_value, new_value);
    store16(transport + kUdpChecksum, updated == 0 ? 0xffff : updated);  // 0 would mean "none"
  }
}

}  // namespace

void rewrite_ipv4_destination(std::span<uint8_t> frame, ParsedFrame& parsed, uint32_t destination) {
  rewrite_address(frame, parsed.ip, kIpDestination, parsed.ip.destination, destination);
  parsed.ip.destination = destination;
}

void rewrite_ipv4_source(std::span<uint8_t> frame, ParsedFrame& parsed, uint32_t source) {
  rewrite_address(frame, parsed.ip, kIpSource, parsed.ip.source, source);
  parsed.ip.source = source;
}

void set_ethernet_addresses(std::span<uint8_t> frame, const MacAddress& destination, const MacAddress& source) {
  std::memcpy(frame.data(), destination.data(), 6);
  std::memcpy(frame.data() + 6, source.data(), 6);
}

size_t build_arp_reply(const ArpView& request, const MacAddress& mac, std::span<uint8_t> out) {
  if (out.size() < kArpReplyLength) return 0;
  std::fill(out.begin(), out.begin() + kArpReplyLength, uint8_t{0});
  uint8_t* frame = out.data();
  std::memcpy(frame, request.sender_mac, 6);
  std::memcpy(frame + 6, mac.data(), 6);
  store16(frame + 12, kEtherTypeArp);
  uint8_t* arp = frame + kEthernetHeader;
  store16(arp, 1);  // Ethernet
  store16(arp + 2, kEtherTypeIpv4);
  arp[4] = 6;
  arp[5] = 4;
  store16(arp + 6, 2);  // reply
  std::memcpy(arp + 8, mac.data(), 6);
  store32(arp + 14, request.target_ip);
  std::memcpy(arp + 18, request.sender_mac, 6);
  store32(arp + 24, request.sender_ip);
  return kArpReplyLength;
}

}  // namespace vmhive::packet
