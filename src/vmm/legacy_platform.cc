#include "vmm/legacy_platform.h"

#include "arch/x86/acpi/fadt.h"

namespace vmhive {
namespace {

constexpr uint16_t kRtcBase = 0x70;
constexpr uint16_t kRtcPorts = 2;
constexpr uint16_t kI8042Base = 0x60;
constexpr uint16_t kI8042Ports = 5;  // 0x60 data .. 0x64 status/command
constexpr uint16_t kSleepRegisterPorts = 2;
constexpr uint16_t kPostCodePort = 0x80;
constexpr uint16_t kDebugExitPort = 0xf4;

}  // namespace

LegacyPlatform::LegacyPlatform(LegacyPlatformHooks hooks)
    : hooks_(std::move(hooks)),
      serial_([this](uint8_t byte) { hooks_.console_output(byte); },
              [this](bool level) { hooks_.set_irq(devices::Uart8250::kCom1Irq, level); }),
      rtc_([this] { return hooks_.wall_clock(); }),
      keyboard_controller_([this](const StopRequest& request) { hooks_.stop(request); },
                           [this](bool level) { hooks_.set_irq(devices::I8042::kKeyboardIrq, level); }),
      sleep_control_([this](const StopRequest& request) { hooks_.stop(request); }),
      debug_exit_([this](const StopRequest& request) { hooks_.stop(request); }) {}

Result<std::unique_ptr<LegacyPlatform>> LegacyPlatform::create(LegacyPlatformHooks hooks) {
  std::unique_ptr<LegacyPlatform> platform(new LegacyPlatform(std::move(hooks)));
  VMHIVE_CHECK(platform->attach());
  return platform;
}

Result<void> LegacyPlatform::attach() {
  VMHIVE_CHECK(io_bus_.add(devices::Uart8250::kCom1Base, devices::Uart8250::kPortCount, &serial_));
  VMHIVE_CHECK(io_bus_.add(kRtcBase, kRtcPorts, &rtc_));
  VMHIVE_CHECK(io_bus_.add(kI8042Base, kI8042Ports, &keyboard_controller_));
  VMHIVE_CHECK(io_bus_.add(x86::acpi::kSleepControlPort, kSleepRegisterPorts, &sleep_control_));
  VMHIVE_CHECK(io_bus_.add(kPostCodePort, 1, &post_code_));
  VMHIVE_CHECK(io_bus_.add(kDebugExitPort, 1, &debug_exit_));
  return {};
}

}  // namespace vmhive
