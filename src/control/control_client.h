// The client side of a control socket (`vmhive snapshot` asking a VM):
// connect, send one request line, read the one reply line.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/result.h"

namespace vmhive::control {

// Connects to `path`, sends `request` (one line) and returns the reply line.
Result<std::string> send_request(const std::string& path, const std::string& request,
                                 std::chrono::milliseconds timeout);

// The same request to every socket in `paths` at once, all answers awaited
// together until one deadline: what a daemon asks of all its VMs costs the
// slowest answer, not their sum, and a VM that does not answer costs at
// most `timeout`. One result per path, in order.
std::vector<Result<std::string>> send_to_each(const std::vector<std::string>& paths, const std::string& request,
                                              std::chrono::milliseconds timeout);

}  // namespace vmhive::control
