// The clone server's socket protocol (`vmhive clone-server --socket PATH`,
// clones/clone_server.h): one JSON object a line, one request per connection.
//   {"op":"clone"}                 -> {"ok":true,"index":I,"pid":P,"start_ms":T}
//   {"op":"clone","input":"text"}     the same; `text` (at most 4096 bytes)
//                                     goes to the clone's console once it runs
//   {"op":"status"}                -> {"ok":true,"ready":R,"restoring":S,"started":C}
//   anything else                  -> {"ok":false,"error":"<one line>"}
// Requests are hostile input (fuzz_control_request parses them too).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"

namespace vmhive::clones {

struct CloneServerRequest {
  bool clone = false;  // false: status
  std::string input;
};
inline constexpr size_t kMaxCloneInputBytes = 4096;

// Every malformed line is an error, never a throw.
Result<CloneServerRequest> parse_clone_server_request(std::string_view line);

// Reply lines, newline included. start_ms is from the request to every vCPU
// thread of the clone running.
std::string started_reply(unsigned index, pid_t pid, double start_ms);
std::string status_reply(size_t ready, size_t restoring, size_t started);
std::string error_reply(std::string_view message);

}  // namespace vmhive::clones
