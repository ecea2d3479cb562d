// A DNS sinkhole: the gateway answers a clone's DNS queries itself, every
// name resolving to one address (the sinkhole's), so malware that looks up
// its command server finds an address the farm controls and the name it
// asked for is recorded. The query is guest input: every length is checked
// against the datagram, names are plain labels (a query has no reason to
// compress), and anything else is refused. Allocation-free.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace vmhive::farm {

struct DnsAnswer {
  size_t length = 0;  // of the response written; 0: not a query to answer (dropped)
  std::array<char, 256> name{};  // the name asked for, dotted ("evil.example"), NUL-terminated
  uint16_t query_type = 0;       // 1 A, 28 AAAA, ...
  std::string_view name_text() const { return name.data(); }
};

inline constexpr size_t kDnsHeader = 12;
inline constexpr size_t kMaxDnsAnswer = 512;  // what a UDP answer may be without EDNS

// The answer to `query` (a UDP payload) in `out` (at least kMaxDnsAnswer
// bytes): an A question of class IN gets `sinkhole` (host order) with a
// short TTL; other types of class IN get no records (NODATA); other classes
// and opcodes are NOTIMP. Responses, malformed queries and queries with
// more or fewer than one question are not answered.
DnsAnswer answer_dns_query(std::span<const uint8_t> query, uint32_t sinkhole, std::span<uint8_t> out);

}  // namespace vmhive::farm
