// The hardware-reduced ACPI sleep registers (ACPI 6.5 §4.8.3.7) the FADT
// names: control at offset 0 (port 0x600), status at offset 1 (0x601).
// Writing SLP_EN with SLP_TYP 5 (\_S5_, soft off) powers the machine off.
#pragma once

#include <utility>

#include "devices/io_bus.h"
#include "devices/machine_events.h"

namespace vmhive::devices {

class AcpiSleepControl final : public PioDevice {
 public:
  static constexpr uint8_t kSleepEnable = 1u << 5;
  static constexpr uint8_t kSleepTypeShift = 2;
  static constexpr uint8_t kSleepTypeMask = 0x7;
  static constexpr uint8_t kSoftOffSleepType = 5;  // must match \_S5_ in the DSDT

  explicit AcpiSleepControl(StopCallback stop) : stop_(std::move(stop)) {}
  void read(uint16_t offset, std::span<uint8_t> data) override;
  void write(uint16_t offset, std::span<const uint8_t> data) override;

 private:
  StopCallback stop_;
};

}  // namespace vmhive::devices
