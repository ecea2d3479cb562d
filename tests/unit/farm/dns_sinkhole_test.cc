// The DNS sinkhole: an A query resolves to the sinkhole, other types get no
// records, other classes NOTIMP, and what is not a plain query is not
// answered; the answer a real resolver library would accept (its header,
// question and record checked byte by byte) inside a UDP reply whose
// checksums hold.
#include "farm/dns_sinkhole.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "frame_builder.h"
#include "packet/frame.h"
#include "packet/udp_reply.h"

namespace vmhive::farm {
namespace {

std::vector<uint8_t> query(const std::string& name, uint16_t type, uint16_t klass = 1, uint16_t flags = 0x0100) {
  std::vector<uint8_t> q{0x12, 0x34, static_cast<uint8_t>(flags >> 8), static_cast<uint8_t>(flags), 0, 1, 0, 0, 0, 0, 0, 0};
  size_t start = 0;
  while (start <= name.size()) {
    const size_t dot = std::min(name.find('.', start), name.size());
    q.push_back(static_cast<uint8_t>(dot - start));
    q.insert(q.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  q.push_back(0);
  for (uint16_t v : {type, klass}) {
    q.push_back(static_cast<uint8_t>(v >> 8));
    q.push_back(static_cast<uint8_t>(v));
  }
  return q;
}

constexpr uint32_t kSinkhole = 0x0a000ffe;  // 10.0.15.254

TEST(DnsSinkhole, AnAQueryResolvesToTheSinkhole) {
  const auto q = query("c2.evil.example", 1);
  std::vector<uint8_t> out(kMaxDnsAnswer);
  const DnsAnswer answer = answer_dns_query(q, kSinkhole, out);
  ASSERT_EQ(answer.length, q.size() + 16);
  EXPECT_EQ(answer.name_text(), "c2.evil.example");
  EXPECT_EQ(answer.query_type, 1);
  EXPECT_EQ(packet::load16(&out[0]), 0x1234) << "the query's id";
  EXPECT_EQ(packet::load16(&out[2]), 0x8580) << "response, authoritative, recursion desired and available, NOERROR";
  EXPECT_EQ(packet::load16(&out[4]), 1);
  EXPECT_EQ(packet::load16(&out[6]), 1) << "one answer";
  EXPECT_TRUE(std::equal(q.begin() + 12, q.end(), out.begin() + 12)) << "the question as asked";
  const uint8_t* record = &out[q.size()];
  EXPECT_EQ(packet::load16(record), 0xc00c) << "the question's name";
  EXPECT_EQ(packet::load16(record + 2), 1);
  EXPECT_EQ(packet::load16(record + 4), 1);
  EXPECT_EQ(packet::load32(record + 6), 60u);
  EXPECT_EQ(packet::load16(record + 10), 4);
  EXPECT_EQ(packet::load32(record + 12), kSinkhole);
}

TEST(DnsSinkhole, OtherTypesGetNoRecordsAndOtherClassesNotImplemented) {
  std::vector<uint8_t> out(kMaxDnsAnswer);
  const auto aaaa = query("evil.example", 28);
  DnsAnswer answer = answer_dns_query(aaaa, kSinkhole, out);
  ASSERT_EQ(answer.length, aaaa.size());
  EXPECT_EQ(packet::load16(&out[6]), 0) << "NODATA";
  EXPECT_EQ(out[3] & 0xf, 0);
  const auto chaos = query("version.bind", 16, 3);
  answer = answer_dns_query(chaos, kSinkhole, out);
  ASSERT_EQ(answer.length, chaos.size());
  EXPECT_EQ(out[3] & 0xf, 4) << "NOTIMP";
}

TEST(DnsSinkhole, WhatIsNotAPlainQueryIsNotAnswered) {
  std::vector<uint8_t> out(kMaxDnsAnswer);
  auto response = query("evil.example", 1, 1, 0x8180);
  EXPECT_EQ(answer_dns_query(response, kSinkhole, out).length, 0u) << "a response";
  auto two = query("evil.example", 1);
  two[5] = 2;
  EXPECT_EQ(answer_dns_query(two, kSinkhole, out).length, 0u) << "two questions";
  auto pointer = query("evil.example", 1);
  pointer[12] = 0xc0;
  EXPECT_EQ(answer_dns_query(pointer, kSinkhole, out).length, 0u) << "a compressed name";
  auto q = query("evil.example", 1);
  for (size_t size = 0; size < q.size(); ++size)
    EXPECT_EQ(answer_dns_query(std::span(q.data(), size), kSinkhole, out).length, 0u) << "cut at " << size;
  std::string long_name;
  for (int i = 0; i < 5; ++i) long_name += std::string(60, 'a') + ".";
  long_name += "example";
  EXPECT_EQ(answer_dns_query(query(long_name, 1), kSinkhole, out).length, 0u) << "a name over 255 bytes";
  auto binary = query("ev\x01l.example", 1);
  const DnsAnswer odd = answer_dns_query(binary, kSinkhole, out);
  EXPECT_EQ(odd.name_text(), "ev?l.example") << "unprintable bytes are not passed on to events";
}

TEST(UdpReply, SwapsTheEndsAndEveryChecksumHolds) {
  vmhive::testing::FrameSpec spec;
  spec.protocol = packet::kProtocolUdp;
  spec.source = 0x0a000002;
  spec.destination = 0x08080808;
  spec.source_port = 40000;
  spec.destination_port = 53;
  spec.payload = query("evil.example", 1);
  const auto request = vmhive::testing::build_frame(spec);
  const packet::ParsedFrame parsed = packet::parse_frame(request);
  ASSERT_TRUE(parsed.ok());
  const uint8_t payload[] = {1, 2, 3, 4, 5};
  std::vector<uint8_t> out(200);
  const size_t length = packet::build_udp_reply(parsed, payload, out);
  ASSERT_EQ(length, packet::kUdpReplyHeaders + sizeof payload);
  out.resize(length);
  const packet::ParsedFrame reply = packet::parse_frame(out);
  ASSERT_TRUE(reply.ok()) << packet::refusal_name(reply.refusal);
  EXPECT_EQ(reply.ip.source, 0x08080808u);
  EXPECT_EQ(reply.ip.destination, 0x0a000002u);
  EXPECT_EQ(reply.ip.source_port, 53);
  EXPECT_EQ(reply.ip.destination_port, 40000);
  EXPECT_TRUE(std::equal(out.begin(), out.begin() + 6, request.begin() + 6)) << "back to the sender's MAC";
  EXPECT_TRUE(packet::transport_checksum_intact(out, reply));
  std::vector<uint8_t> small(packet::kUdpReplyHeaders + 4);
  EXPECT_EQ(packet::build_udp_reply(parsed, payload, small), 0u) << "too small a buffer";
}

}  // namespace
}  // namespace vmhive::farm
