// The i8042 keyboard controller at 0x60 (data, offset 0) and 0x64 (status
// and command, offset 4): its commands for the controller itself, the reset
// line (command 0xfe, Linux's reboot=k), which stops the VM with a reset,
// and a keyboard on its first port (devices/legacy/ps2_keyboard.h) that the
// VMM can type Ctrl-Alt-Del on. A byte from the keyboard raises IRQ 1 while
// the command byte enables it, and is translated to scan code set 1 while
// the command byte's translate bit is set (it is, as firmware leaves it).
// No mouse is attached: bytes for the second port go nowhere and IRQ 12
// never fires. The DSDT lists the controller and keyboard (PNP0303, ports
// 0x60 and 0x64, IRQ 1), and no mouse.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <utility>

#include "common/result.h"
#include "devices/io_bus.h"
#include "devices/legacy/ps2_keyboard.h"
#include "devices/machine_events.h"

namespace vmhive::devices {

class I8042 final : public PioDevice {
 public:
  static constexpr uint16_t kBase = 0x60;
  // 0x60..0x64. Ports 0x61-0x63 fall inside the range but are not the
  // controller's (0x61 is system control port B, not modelled); they read
  // as all ones and ignore writes, as unclaimed ports do.
  static constexpr uint16_t kPortCount = 5;
  static constexpr uint16_t kDataOffset = 0;
  static constexpr uint16_t kCommandOffset = 4;

  static constexpr unsigned kKeyboardIrq = 1;
  using IrqLine = std::function<void(bool level)>;

  // `keyboard_irq` sets IRQ 1's level; it is called with the controller's
  // lock held, so it must not come back into the controller.
  explicit I8042(StopCallback stop, IrqLine keyboard_irq = {})
      : stop_(std::move(stop)), keyboard_irq_(std::move(keyboard_irq)) {}
  void read(uint16_t offset, std::span<uint8_t> data) override;
  void write(uint16_t offset, std::span<const uint8_t> data) override;

  // Types Ctrl-Alt-Del on the keyboard (any thread); an error if the
  // keyboard cannot take it (Ps2Keyboard::type_ctrl_alt_del).
  Result<void> press_ctrl_alt_del();

  // For snapshots.
  struct State {
    std::optional<uint8_t> output_buffer;
    std::optional<uint8_t> pending_command;
    uint8_t command_byte;
    bool last_write_was_command;

    template <class Codec, class Self>
    static Result<void> fields(Codec& codec, Self& self) {
      return codec.field(self.output_buffer, self.pending_command, self.command_byte, self.last_write_was_command);
    }
  };
  // The keyboard's side, a section of its own in snapshots (one written
  // before the keyboard existed has none: the defaults).
  struct KeyboardState {
    Ps2Keyboard::State keyboard{};
    bool output_from_keyboard = false;  // the output buffer's byte came from the keyboard
    bool translating_break = false;     // a set-2 break prefix is waiting for its key

    template <class Codec, class Self>
    static Result<void> fields(Codec& codec, Self& self) {
      VMHIVE_CHECK(codec.nested(self.keyboard));
      return codec.field(self.output_from_keyboard, self.translating_break);
    }
  };
  State state();
  KeyboardState keyboard_state();
  void restore(const State& state, const KeyboardState& keyboard);

 private:
  uint8_t read_register(uint16_t offset);
  // Returns true when the write asks for a reset.
  bool write_command(uint8_t command);
  bool write_data(uint8_t value);
  uint8_t status() const;
  // Moves the keyboard's next byte into an empty output buffer (translated
  // if the command byte says so) and sets IRQ 1 to match.
  void deliver_keyboard_output();
  void update_keyboard_irq();

  StopCallback stop_;
  IrqLine keyboard_irq_;
  std::mutex mutex_;
  Ps2Keyboard keyboard_;
  bool output_from_keyboard_ = false;
  bool translating_break_ = false;
  bool irq_level_ = false;
  std::optional<uint8_t> output_buffer_;
  std::optional<uint8_t> pending_command_;  // a command whose parameter is the next data write
  uint8_t command_byte_ = 0x45;  // translate, system flag, keyboard interrupt: as firmware leaves it
  bool last_write_was_command_ = false;
};

}  // namespace vmhive::devices
