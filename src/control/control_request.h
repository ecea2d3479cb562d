// The per-VM control protocol: one JSON object per line on a Unix socket
// (`vmhive run --control PATH`), answered by one JSON object per line.
//   {"op": "snapshot", "dir": "/path", "resume": true}   save the VM; go on or stop
//   {"op": "pause"} / {"op": "resume"}                   hold or release the vCPUs
//   {"op": "stop"}                                        end the VM (exit status 0)
//   {"op": "ctrl_alt_del"}                                type Ctrl-Alt-Del on its keyboard
//   {"op": "status"}                                      {"ok": true, "state": "running"|"paused"}
//   {"op": "stats"}                                       {"ok": true, "exits": {"io": N, ...},
//                                                          "devices": [{"kind": "virtio-blk", "index": 0,
//                                                          "in_requests": N, "in_bytes": N, ...}]}
// Replies: {"ok": true, ...} or {"ok": false, "error": "<one line>"}.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace vmhive::control {

enum class Operation { kSnapshot, kPause, kResume, kStop, kCtrlAltDel, kStatus, kStats };

struct ControlRequest {
  Operation op = Operation::kStatus;
  std::string dir;     // snapshot: where to write it
  bool resume = true;  // snapshot: run on afterwards (false: the VM stops)
};

// Longest request line accepted.
inline constexpr size_t kMaxRequestBytes = 64 * 1024;

// Parses one request line; every malformed input is an error, never a throw.
Result<ControlRequest> parse_control_request(std::string_view line);

// Reply lines: {"ok":true, <members>...} and {"ok":false,"error":"..."},
// built by nlohmann-json (members keep their order).
std::string ok_reply(const nlohmann::ordered_json& members = nlohmann::ordered_json::object());
std::string error_reply(std::string_view message);

}  // namespace vmhive::control
