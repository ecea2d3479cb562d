// A hostile guest drives the legacy devices through port I/O: any sequence
// of reads and writes, of any width, at any port, must leave the VMM intact.
// Input: records of {port low byte, flags (bit 0 write, bits 1-2 width, bits
// 5-6 both set: Ctrl-Alt-Del typed on the keyboard, bit 7: console input), data}.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "devices/io_bus.h"
#include "devices/legacy/acpi_sleep_control.h"
#include "devices/legacy/cmos_rtc.h"
#include "devices/legacy/debug_exit.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/post_code_port.h"
#include "devices/legacy/uart_8250.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vmhive;
  using namespace vmhive::devices;
  size_t output_bytes = 0;
  auto stop = [](const StopRequest&) {};
  Uart8250 uart([&](uint8_t) { output_bytes++; }, [](bool) {});
  CmosRtc rtc([] { return int64_t{1795527907}; });
  // IRQ 1 only ever changes: a repeated level would be a lost or doubled edge.
  bool keyboard_irq = false;
  I8042 i8042(stop, [&](bool level) {
    if (level == keyboard_irq) __builtin_trap();
    keyboard_irq = level;
  });
  AcpiSleepControl sleep(stop);
  DebugExit debug_exit(stop);
  PostCodePort post;
  IoBus bus;
  if (!bus.add(0x3f8, 8, &uart).ok() || !bus.add(0x70, 2, &rtc).ok() || !bus.add(0x60, 5, &i8042).ok() ||
      !bus.add(0x600, 2, &sleep).ok() || !bus.add(0xf4, 1, &debug_exit).ok() || !bus.add(0x80, 1, &post).ok()) {
    __builtin_trap();
  }
  // The ports these devices live on, so most accesses hit one of them.
  static constexpr uint16_t kPorts[] = {0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff,
                                        0x70,  0x71,  0x60,  0x64,  0x600, 0x601, 0xf4,  0x80};
  size_t offset = 0;
  while (offset + 2 <= size) {
    const uint16_t port = static_cast<uint16_t>(kPorts[data[offset] % 16] + (data[offset] >> 4) % 4);
    const uint8_t flags = data[offset + 1];
    const size_t width = size_t{1} << ((flags >> 1) % 3);
    offset += 2;
    uint8_t buffer[4] = {0xff, 0xff, 0xff, 0xff};
    if (flags & 1) {
      for (size_t i = 0; i < width && offset < size; ++i) buffer[i] = data[offset++];
      bus.write(port, std::span<const uint8_t>(buffer, width));
    } else {
      bus.read(port, std::span<uint8_t>(buffer, width));
    }
    if (flags & 0x80) {
      const uint8_t input[] = {flags, 'x', '\n'};
      (void)uart.enqueue_input(input);
    }
    if ((flags & 0x60) == 0x60) (void)i8042.press_ctrl_alt_del();  // the VMM typing while the guest pokes
  }
  return 0;
}
