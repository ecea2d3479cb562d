// A control request is whatever a client writes to a VM's control socket:
// any bytes must parse into a request or a clear error, never a crash (and
// likewise a request to a clone server).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "clones/clone_server_protocol.h"
#include "control/control_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vmhive::control;
  auto request = parse_control_request(std::string_view(reinterpret_cast<const char*>(data), size));
  if (request.ok() && request->op == Operation::kSnapshot && request->dir.empty()) __builtin_trap();
  if (!request.ok()) (void)error_reply(request.error().message);
  // The same bytes as a request to a clone server.
  auto clone = vmhive::clones::parse_clone_server_request(std::string_view(reinterpret_cast<const char*>(data), size));
  if (clone.ok() && clone->input.size() > vmhive::clones::kMaxCloneInputBytes) __builtin_trap();
  if (!clone.ok()) (void)vmhive::clones::error_reply(clone.error().message);
  return 0;
}
