// The PC devices every vmhive machine has on the I/O port space: COM1, the
// CMOS RTC, the i8042 (for reset), the ACPI sleep registers (for power-off),
// the POST port and the debug-exit port. See docs/guest-interface.md.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "common/result.h"
#include "devices/io_bus.h"
#include "devices/legacy/acpi_sleep_control.h"
#include "devices/legacy/cmos_rtc.h"
#include "devices/legacy/debug_exit.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/post_code_port.h"
#include "devices/legacy/uart_8250.h"
#include "devices/machine_events.h"

namespace vmhive {

// What the devices need from the machine around them.
struct LegacyPlatformHooks {
  std::function<void(uint8_t)> console_output;          // each byte the guest writes to COM1
  std::function<void(uint32_t irq, bool level)> set_irq;  // drives an ISA IRQ line
  StopCallback stop;                                    // power-off, reset, debug exit
  std::function<int64_t()> wall_clock;                  // Unix seconds, for the RTC
};

class LegacyPlatform {
 public:
  // Not movable: the bus holds pointers to the devices.
  static Result<std::unique_ptr<LegacyPlatform>> create(LegacyPlatformHooks hooks);

  const IoBus& io_bus() const { return io_bus_; }
  // Puts another device (PCI's configuration ports) on the port space; only
  // while the machine is assembled, before any vCPU runs.
  Result<void> add_port_device(uint16_t base, uint16_t length, PioDevice* device) {
    return io_bus_.add(base, length, device);
  }
  devices::Uart8250& serial() { return serial_; }
  devices::CmosRtc& rtc() { return rtc_; }
  devices::I8042& keyboard_controller() { return keyboard_controller_; }

  // For snapshots: the devices that hold state a guest can see (the others
  // are stateless ports).
  struct State {
    devices::Uart8250::State uart{};
    devices::CmosRtc::State rtc{};
    devices::I8042::State i8042{};
    devices::I8042::KeyboardState keyboard{};
  };
  State state() {
    return State{serial_.state(), rtc_.state(), keyboard_controller_.state(), keyboard_controller_.keyboard_state()};
  }
  void restore(const State& state) {
    serial_.restore(state.uart);
    rtc_.restore(state.rtc);
    keyboard_controller_.restore(state.i8042, state.keyboard);
  }

 private:
  explicit LegacyPlatform(LegacyPlatformHooks hooks);
  Result<void> attach();

  LegacyPlatformHooks hooks_;
  devices::Uart8250 serial_;
  devices::CmosRtc rtc_;
  devices::I8042 keyboard_controller_;
  devices::AcpiSleepControl sleep_control_;
  devices::PostCodePort post_code_;
  devices::DebugExit debug_exit_;
  IoBus io_bus_;
};

}  // namespace vmhive
