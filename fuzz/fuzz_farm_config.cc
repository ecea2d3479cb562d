// A farm's configuration is a user's file: any bytes get one error or a
// configuration whose every value is in range.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "farm/farm_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vmhive::farm;
  auto config = farm_config_from_json(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!config.ok()) return 0;
  if (config->profiles.empty() || config->profiles.size() > 16 || config->budget == 0 ||
      config->budget > FarmConfig::kMaxBudget || config->range.prefix_length < AddressRange::kShortestPrefix ||
      config->outside_tap.empty())
    __builtin_trap();
  for (const ServiceProfile& profile : config->profiles)
    if (profile.snapshot.empty() || profile.ready == 0 || profile.ready > FarmConfig::kMaxReady) __builtin_trap();
  (void)profile_for_port(*config, 22);
  return 0;
}
