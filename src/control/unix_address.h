// The address of a Unix socket at `path`, for both ends of a control socket:
// one clear error for a path that is empty or does not fit sun_path.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <string>

#include "common/result.h"

namespace vmhive::control {

inline Result<sockaddr_un> unix_address(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof address.sun_path)
    return make_error("control socket path '" + path + "' is empty or longer than " +
                      std::to_string(sizeof address.sun_path - 1) + " bytes");
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}

}  // namespace vmhive::control
