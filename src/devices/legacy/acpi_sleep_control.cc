#include "devices/legacy/acpi_sleep_control.h"

#include <algorithm>

namespace vmhive::devices {
namespace {
constexpr uint16_t kControlOffset = 0;
}  // namespace

// Neither register has anything to report: the machine never sleeps and
// wakes, so WAK_STS stays clear.
void AcpiSleepControl::read(uint16_t, std::span<uint8_t> data) { std::fill(data.begin(), data.end(), 0); }

void AcpiSleepControl::write(uint16_t offset, std::span<const uint8_t> data) {
  if (offset != kControlOffset || data.empty()) return;  // writes to status clear nothing we keep
  const uint8_t value = data[0];
  const uint8_t sleep_type = (value >> kSleepTypeShift) & kSleepTypeMask;
  // Other sleep states (S1-S4) are not offered in the DSDT; a guest asking for one is ignored.
  if ((value & kSleepEnable) != 0 && sleep_type == kSoftOffSleepType) stop_(StopRequest{StopReason::kPowerOff, 0});
}

}  // namespace vmhive::devices
