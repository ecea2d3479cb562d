// A clone's DNS query is guest input: the sinkhole must answer or refuse
// anything without reading past the datagram, and what it answers must fit
// the answer buffer and carry the query's question back.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "farm/dns_sinkhole.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vmhive::farm;
  std::vector<uint8_t> query(data, data + size);  // exact size: a read past it is ASan's
  std::vector<uint8_t> out(kMaxDnsAnswer);
  const DnsAnswer answer = answer_dns_query(query, 0x0a000ffe, out);
  if (answer.length == 0) return 0;
  if (answer.length > kMaxDnsAnswer || answer.length < kDnsHeader) __builtin_trap();
  if (std::memcmp(out.data(), query.data(), 2) != 0) __builtin_trap();  // the id
  if (std::strlen(answer.name.data()) >= answer.name.size()) __builtin_trap();
  return 0;
}
