// The guest kernel's text, write-protected (`--write-protect-text`): its
// pages sit in read-only memory slots, so a write to them leaves the guest
// as an MMIO exit that this watch takes. The write is dropped (the text
// stays as it was, the guest goes on) and reported: one line on stderr for
// the first, and a JSON line for each of the first few on the alert
// descriptor, where a honeyfarm's gateway hears of it at once and
// snapshots the clone for forensics. A kernel that patches its own text at
// run time (Linux's static keys, live patching) is reported too: protect
// text once the kernel has settled (a snapshot of it booted, restored with
// the flag), and expect the rare patch to look like an attack.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "common/unique_fd.h"
#include "memory/guest_range.h"

namespace vmhive {

class TextWriteWatch {
 public:
  static constexpr uint64_t kReportedWrites = 16;  // on the alert descriptor; the rest are counted

  // `alert` may be invalid (no alert descriptor): stderr only.
  TextWriteWatch(std::vector<GuestRange> text, UniqueFd alert) : text_(std::move(text)), alert_(std::move(alert)) {}

  const std::vector<GuestRange>& text() const { return text_; }
  // A guest write of `length` bytes at `address` by vCPU `vcpu`, taken from
  // an MMIO exit: true if it was to the protected text (and so handled).
  // Called by vCPU threads.
  bool on_write(uint32_t vcpu, uint64_t address, uint32_t length);
  uint64_t writes() const { return writes_.load(std::memory_order_relaxed); }

 private:
  std::vector<GuestRange> text_;
  UniqueFd alert_;
  std::atomic<uint64_t> writes_{0};
};

}  // namespace vmhive
