// The client side of a control socket (`vmhive snapshot` asking a VM):
// connect, send one request line, read the one reply line.
#pragma once

#include <chrono>
#include <string>

#include "common/result.h"

namespace vmhive::control {

// Connects to `path`, sends `request` (one line) and returns the reply line.
Result<std::string> send_request(const std::string& path, const std::string& request,
                                 std::chrono::milliseconds timeout);

}  // namespace vmhive::control
