// Parsing of the device options of `vmhive run` (--disk PATH[,readonly][,overlay=PATH], --net
// tap=NAME|fd=N[,mac=MAC]) and the checks every disk and net gets, from flags or a JSON document.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "devices/virtio/block/disk_image.h"
#include "config/vm_config.h"

namespace vmhive::config {

// Errors name the option as typed and what is wrong with it.
Result<virtio::DiskSpec> parse_disk_option(std::string_view text);

// --net tap=NAME[,mac=MAC] or --net fd=N[,mac=MAC] (N: an inherited Unix
// datagram or seqpacket socket, one frame per message; net_backend.h)
Result<NetSpec> parse_net_option(std::string_view text);

// What every disk and net must be, however given; `what` starts the error
// ("--disk img,readonly", "disks[2]").
Result<void> check_disk_spec(const virtio::DiskSpec& spec, const std::string& what);
Result<void> check_tap_name(const std::string& tap, const std::string& what);
// A tap or a socket, not both; a socket's descriptor is 3 or above.
Result<void> check_net_spec(const NetSpec& spec, const std::string& what);
// The largest descriptor number fd= takes.
inline constexpr int kMaxNetFd = 65535;
// "52:54:00:12:34:56": six hex bytes, not multicast.
Result<std::array<uint8_t, 6>> parse_mac(std::string_view text, const std::string& what);

}  // namespace vmhive::config
