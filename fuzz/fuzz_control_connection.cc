// A control connection's bytes, as a hostile local client sends them in any
// pieces: the first byte of each piece is its length. The request line is
// framed, bounded and answered by the real request handling on a controller
// that does nothing; nothing may crash, and a line never exceeds the limit.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "control/controller_requests.h"
#include "control/request_reader.h"

namespace {

class InertController : public vmhive::control::VmController {
 public:
  vmhive::Result<void> pause() override { return {}; }
  vmhive::Result<void> resume() override { return {}; }
  vmhive::Result<vmhive::control::SnapshotReport> snapshot(const std::string&, bool) override {
    return vmhive::make_error("no snapshots here");
  }
  void stop() override {}
  vmhive::Result<void> press_ctrl_alt_del() override { return {}; }
  vmhive::control::VmStatus status() const override { return {}; }
  vmhive::control::VmStats stats() const override { return {0.5, {{"io", 1}}, {{"virtio-blk", 0, 1, 2, 3, 4, 5, 6}}}; }
};

constexpr size_t kLimit = 1024;

void answer(const std::string& line) {
  if (line.size() > kLimit) __builtin_trap();
  InertController controller;
  const std::string reply = vmhive::control::serve_request(line, controller);
  if (reply.empty() || reply.back() != '\n' || reply.find('\n') != reply.size() - 1) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vmhive::control::RequestReader reader(kLimit);
  size_t at = 0;
  while (at < size) {
    const size_t piece = std::min<size_t>(data[at], size - at - 1);
    ++at;
    auto line = reader.feed(std::span(reinterpret_cast<const char*>(data + at), piece));
    at += piece;
    if (!line.ok()) return 0;
    if (line->has_value()) {
      answer(**line);
      return 0;
    }
  }
  if (auto last = reader.finish(); last.ok()) answer(*last);
  return 0;
}
