#include "farm/dns_sinkhole.h"

#include <cstring>

#include "packet/frame.h"

namespace vmhive::farm {
namespace {

using packet::load16;
using packet::store16;
using packet::store32;

constexpr uint16_t kFlagResponse = 0x8000;
constexpr uint16_t kFlagAuthoritative = 0x0400;
constexpr uint16_t kFlagRecursionDesired = 0x0100;
constexpr uint16_t kFlagRecursionAvailable = 0x0080;
constexpr uint16_t kRcodeNotImplemented = 4;
constexpr uint16_t kTypeA = 1;
constexpr uint16_t kClassIn = 1;
constexpr uint32_t kTtlSeconds = 60;
constexpr size_t kMaxName = 255;  // RFC 1035 2.3.4, on the wire

}  // namespace

DnsAnswer answer_dns_query(std::span<const uint8_t> query, uint32_t sinkhole, std::span<uint8_t> out) {
  DnsAnswer answer;
  if (query.size() < kDnsHeader || out.size() < kMaxDnsAnswer) return answer;
  const uint8_t* header = query.data();
  const uint16_t flags = load16(header + 2);
  if ((flags & kFlagResponse) != 0) return answer;       // a response, not a query
  if (load16(header + 4) != 1) return answer;            // exactly one question
  if (load16(header + 6) != 0 || load16(header + 8) != 0) return answer;  // a query carries no answers
  // The question's name: labels up to the root, each within the datagram.
  size_t at = kDnsHeader;
  size_t text = 0;
  for (;;) {
    if (at >= query.size()) return answer;
    const uint8_t label = query[at];
    if (label == 0) break;
    if (label > 63) return answer;  // a compression pointer or a reserved type
    if (at + 1 + label > query.size() || at + 1 + label - kDnsHeader > kMaxName - 1) return answer;
    if (text != 0) answer.name[text++] = '.';
    for (size_t i = 0; i < label; ++i) {
      const char c = static_cast<char>(query[at + 1 + i]);
      answer.name[text++] = (c >= 0x21 && c <= 0x7e) ? c : '?';  // printable in events, whatever was sent
    }
    at += 1 + label;
  }
  answer.name[text] = '\0';
  const size_t question_end = at + 1 + 4;  // the root label, type and class
  if (question_end > query.size()) return answer;
  answer.query_type = load16(query.data() + at + 1);
  const uint16_t query_class = load16(query.data() + at + 3);
  const uint16_t opcode = (flags >> 11) & 0xf;

  // The answer: the header and the question as asked, then the record.
  const size_t question_length = question_end - kDnsHeader;
  std::memcpy(out.data(), header, 2);  // the query's id
  uint16_t answer_flags = kFlagResponse | kFlagAuthoritative | kFlagRecursionAvailable |
                          (flags & kFlagRecursionDesired) | static_cast<uint16_t>(opcode << 11);
  const bool supported = opcode == 0 && query_class == kClassIn;
  if (!supported) answer_flags |= kRcodeNotImplemented;
  const bool has_record = supported && answer.query_type == kTypeA;
  store16(out.data() + 2, answer_flags);
  store16(out.data() + 4, 1);
  store16(out.data() + 6, has_record ? 1 : 0);
  store16(out.data() + 8, 0);
  store16(out.data() + 10, 0);
  std::memcpy(out.data() + kDnsHeader, query.data() + kDnsHeader, question_length);
  size_t length = kDnsHeader + question_length;
  if (has_record) {
    uint8_t* record = out.data() + length;
    store16(record, 0xc000 | kDnsHeader);  // the name: a pointer to the question's
    store16(record + 2, kTypeA);
    store16(record + 4, kClassIn);
    store32(record + 6, kTtlSeconds);
    store16(record + 10, 4);
    store32(record + 12, sinkhole);
    length += 16;
  }
  answer.length = length;
  return answer;
}

}  // namespace vmhive::farm
