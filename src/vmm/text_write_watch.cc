#include "vmm/text_write_watch.h"

#include <unistd.h>

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

namespace vmhive {
namespace {

std::string hex(uint64_t value) {
  char text[32];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

}  // namespace

bool TextWriteWatch::on_write(uint32_t vcpu, uint64_t address, uint32_t length) {
  bool ours = false;
  for (const GuestRange& range : text_) ours |= range.contains(address);
  if (!ours) return false;
  const uint64_t count = writes_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (count == 1)
    std::fprintf(stderr, "vmhive: vCPU %u wrote %u bytes to the write-protected kernel text at %s; dropped\n", vcpu,
                 length, hex(address).c_str());
  if (count <= kReportedWrites && alert_.valid()) {
    const nlohmann::ordered_json line{{"alert", "kernel_text_write"}, {"vcpu", vcpu},
                                      {"guest_address", hex(address)}, {"length", length}, {"count", count}};
    const std::string text = line.dump() + "\n";
    (void)!::write(alert_.get(), text.data(), text.size());  // non-blocking: a reader that lags loses lines
  }
  return true;
}

}  // namespace vmhive
