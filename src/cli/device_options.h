// Parsing of the device options of `vmhive run`: --disk PATH[,readonly][,overlay=PATH].
#pragma once

#include <string_view>

#include "common/result.h"
#include "devices/virtio/block/disk_image.h"
#include "vmm/vm_config.h"

namespace vmhive::cli {

// Errors name the option as typed and what is wrong with it.
Result<virtio::DiskSpec> parse_disk_option(std::string_view text);

// --net tap=NAME[,mac=MAC]
Result<NetSpec> parse_net_option(std::string_view text);

}  // namespace vmhive::cli
