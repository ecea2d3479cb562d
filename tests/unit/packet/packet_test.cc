// Frames as a gateway sees them: checksums against RFC 1071's worked example
// and a real IPv4 header, parsing of what is taken and of every refusal, and
// address rewriting that leaves every checksum as right as it was.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "frame_builder.h"
#include "packet/checksum.h"
#include "packet/frame.h"
#include "packet/rewrite.h"

namespace vmhive::packet {
namespace {

constexpr uint32_t ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return static_cast<uint32_t>(a) << 24 | static_cast<uint32_t>(b) << 16 | static_cast<uint32_t>(c) << 8 | d;
}

TEST(Checksum, RfcExampleAndARealHeader) {
  const std::vector<uint8_t> rfc1071{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(ones_sum(rfc1071), 0xddf2u);
  // An IPv4 header as captured (checksum 0xb861 in place): intact, so it sums to all ones.
  const std::vector<uint8_t> header{0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                                    0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(finish_checksum(ones_sum(header)), 0u);
  std::vector<uint8_t> zeroed = header;
  zeroed[10] = zeroed[11] = 0;
  EXPECT_EQ(finish_checksum(ones_sum(zeroed)), 0xb861u);
  // Changing the source address updates the checksum as a recomputation would.
  std::vector<uint8_t> moved = zeroed;
  store32(&moved[12], ip(10, 1, 2, 3));
  EXPECT_EQ(update_checksum32(0xb861, ip(192, 168, 0, 1), ip(10, 1, 2, 3)), finish_checksum(ones_sum(moved)));
  EXPECT_EQ(ones_sum(std::vector<uint8_t>{0xab}), 0xab00u) << "an odd byte is padded";
}

std::vector<uint8_t> datagram(uint8_t protocol, uint32_t source, uint32_t destination, uint16_t sport, uint16_t dport,
                              const std::vector<uint8_t>& payload, bool udp_checksum = true) {
  testing::FrameSpec spec;
  spec.protocol = protocol;
  spec.source = source;
  spec.destination = destination;
  spec.source_port = sport;
  spec.destination_port = dport;
  spec.payload = payload;
  spec.udp_checksum = udp_checksum;
  return testing::build_frame(spec);
}

using testing::checksums_hold;

TEST(ParseFrame, TakesTcpUdpIcmpAndArp) {
  auto syn = datagram(kProtocolTcp, ip(10, 9, 0, 1), ip(10, 0, 3, 4), 40000, 22, {});
  auto parsed = parse_frame(syn);
  ASSERT_TRUE(parsed.ok()) << refusal_name(parsed.refusal);
  EXPECT_EQ(parsed.kind, FrameKind::kIpv4);
  EXPECT_EQ(parsed.ip.protocol, kProtocolTcp);
  EXPECT_EQ(parsed.ip.destination, ip(10, 0, 3, 4));
  EXPECT_EQ(parsed.ip.destination_port, 22);
  EXPECT_EQ(parsed.ip.source_port, 40000);
  EXPECT_EQ(parsed.ip.tcp_flags, 0x02);

  auto udp = datagram(kProtocolUdp, ip(10, 9, 0, 1), ip(10, 0, 3, 4), 5353, 53, {1, 2, 3});
  parsed = parse_frame(udp);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed.ip.destination_port, 53);
  EXPECT_EQ(parsed.ip.transport_length(), 11u);

  auto ping = datagram(kProtocolIcmp, ip(10, 9, 0, 1), ip(10, 0, 3, 4), 77, 0, {9, 9});
  parsed = parse_frame(ping);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed.ip.icmp_type, 8);
  EXPECT_EQ(parsed.ip.source_port, 77) << "the echo identifier";

  std::vector<uint8_t> arp(42, 0);
  std::memset(arp.data(), 0xff, 6);
  std::memset(arp.data() + 6, 0x04, 6);
  store16(&arp[12], kEtherTypeArp);
  store16(&arp[14], 1);
  store16(&arp[16], kEtherTypeIpv4);
  arp[18] = 6;
  arp[19] = 4;
  store16(&arp[20], 1);
  std::memset(&arp[22], 0x04, 6);
  store32(&arp[28], ip(10, 9, 0, 1));
  store32(&arp[38], ip(10, 0, 3, 4));
  parsed = parse_frame(arp);
  ASSERT_TRUE(parsed.ok()) << refusal_name(parsed.refusal);
  EXPECT_EQ(parsed.kind, FrameKind::kArp);
  EXPECT_EQ(parsed.arp.target_ip, ip(10, 0, 3, 4));

  // The reply says the asked-for address is at the gateway's MAC, to the asker.
  const MacAddress gateway{0x02, 0x76, 0x6d, 0, 0, 1};
  std::vector<uint8_t> reply(kArpReplyLength + 10);
  ASSERT_EQ(build_arp_reply(parsed.arp, gateway, reply), kArpReplyLength);
  reply.resize(kArpReplyLength);
  const auto answer = parse_frame(reply);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer.arp.operation, 2);
  EXPECT_EQ(answer.arp.sender_ip, ip(10, 0, 3, 4));
  EXPECT_EQ(std::memcmp(answer.arp.sender_mac, gateway.data(), 6), 0);
  EXPECT_EQ(answer.arp.target_ip, ip(10, 9, 0, 1));
  EXPECT_EQ(answer.destination_mac[0], 0x04);
  EXPECT_EQ(build_arp_reply(parsed.arp, gateway, std::span(reply.data(), 20)), 0u) << "too small a buffer";
}

TEST(ParseFrame, RefusesWhatItCannotTakeAndSaysWhy) {
  const auto good = datagram(kProtocolTcp, ip(10, 9, 0, 1), ip(10, 0, 3, 4), 40000, 22, {});
  auto with = [&](auto change) {
    auto frame = good;
    change(frame);
    return parse_frame(frame).refusal;
  };
  EXPECT_EQ(with([](auto& f) { f.resize(10); }), Refusal::kRunt);
  EXPECT_EQ(with([](auto& f) { f.resize(30); }), Refusal::kRunt);
  EXPECT_EQ(with([](auto& f) { store16(&f[12], 0x86dd); }), Refusal::kUnknownEtherType);
  EXPECT_EQ(with([](auto& f) { store16(&f[12], 0x8100); }), Refusal::kUnknownEtherType);
  EXPECT_EQ(with([](auto& f) { f[14] = 0x65; }), Refusal::kBadIpHeader);         // IPv6's version
  EXPECT_EQ(with([](auto& f) { f[14] = 0x44; }), Refusal::kBadIpHeader);         // a 16-byte header
  EXPECT_EQ(with([](auto& f) { store16(&f[16], 10); }), Refusal::kBadIpHeader);  // shorter than its header
  EXPECT_EQ(with([](auto& f) { store16(&f[16], 1500); }), Refusal::kRunt);       // longer than the frame
  EXPECT_EQ(with([](auto& f) { f[22] ^= 1; }), Refusal::kBadIpChecksum);         // TTL changed, checksum not
  auto fragment = [](uint16_t flags) {
    return [flags](auto& f) {
      store16(&f[20], flags);
      store16(&f[24], 0);
      store16(&f[24], finish_checksum(ones_sum(std::span(&f[14], 20))));
    };
  };
  EXPECT_EQ(with(fragment(0x2000)), Refusal::kFragment);  // the first piece
  EXPECT_EQ(with(fragment(0x0010)), Refusal::kFragment);  // a later one
  EXPECT_EQ(with(fragment(0x4000)), Refusal::kNone);      // don't fragment: whole
  EXPECT_EQ(with([&](auto& f) {
              f[23] = 47;  // GRE
              store16(&f[24], 0);
              store16(&f[24], finish_checksum(ones_sum(std::span(&f[14], 20))));
            }),
            Refusal::kUnknownProtocol);
  EXPECT_EQ(with([](auto& f) { f[46] = 0x20; }), Refusal::kBadTransportHeader);  // TCP data offset 8 bytes
  EXPECT_EQ(with([](auto& f) { f[46] = 0xf0; }), Refusal::kBadTransportHeader);  // 60 bytes in a 20-byte segment
  auto udp = datagram(kProtocolUdp, ip(10, 9, 0, 1), ip(10, 0, 3, 4), 1, 2, {1, 2, 3});
  store16(&udp[38], 100);  // UDP length past the datagram
  EXPECT_EQ(parse_frame(udp).refusal, Refusal::kBadTransportHeader);
  std::vector<uint8_t> arp(42, 0);
  store16(&arp[12], kEtherTypeArp);
  EXPECT_EQ(parse_frame(arp).refusal, Refusal::kBadArp);
  arp.resize(30);
  EXPECT_EQ(parse_frame(arp).refusal, Refusal::kRunt);
  EXPECT_STREQ(refusal_name(Refusal::kBadIpChecksum), "bad_ip_checksum");
}

TEST(Rewrite, AddressesChangeAndEveryChecksumStillHolds) {
  const uint32_t outside = ip(10, 0, 200, 17), inside = ip(192, 168, 1, 2), attacker = ip(10, 9, 0, 1);
  for (uint8_t protocol : {kProtocolTcp, kProtocolUdp, kProtocolIcmp}) {
    for (const auto& payload : {std::vector<uint8_t>{}, std::vector<uint8_t>{0xff, 0xff, 0x00}}) {
      auto frame = datagram(protocol, attacker, outside, 4444, 80, payload);
      ASSERT_TRUE(checksums_hold(frame));
      auto parsed = parse_frame(frame);
      ASSERT_TRUE(parsed.ok());
      rewrite_ipv4_destination(frame, parsed, inside);  // into the clone
      EXPECT_EQ(load32(&frame[30]), inside);
      EXPECT_TRUE(checksums_hold(frame)) << int{protocol};
      EXPECT_TRUE(parse_frame(frame).ok());
      rewrite_ipv4_source(frame, parsed, outside);  // and as if the clone answered from inside
      EXPECT_EQ(load32(&frame[26]), outside);
      EXPECT_TRUE(checksums_hold(frame)) << int{protocol};
    }
  }
  // A UDP datagram sent without a checksum keeps none.
  auto bare = datagram(kProtocolUdp, attacker, outside, 1, 2, {5}, false);
  auto parsed = parse_frame(bare);
  rewrite_ipv4_destination(bare, parsed, inside);
  EXPECT_EQ(load16(&bare[40]), 0u);
  EXPECT_TRUE(checksums_hold(bare));
  set_ethernet_addresses(bare, MacAddress{1, 2, 3, 4, 5, 6}, MacAddress{6, 5, 4, 3, 2, 1});
  EXPECT_EQ(bare[0], 1);
  EXPECT_EQ(bare[11], 1);
}

}  // namespace
}  // namespace vmhive::packet
