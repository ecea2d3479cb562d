// The i8042 keyboard controller at 0x60 (data, offset 0) and 0x64 (status
// and command, offset 4), modelled only as far as a guest uses it without a
// keyboard: its commands for the controller itself, and above all the reset
// line (command 0xfe, Linux's reboot=k), which stops the VM with a reset.
// No keyboard or mouse is attached, so no scancode is ever produced and
// IRQs 1 and 12 never fire; the DSDT does not list the controller, so
// Linux's PNP probe leaves it alone instead of timing out on it.
#pragma once

#include <mutex>
#include <optional>
#include <utility>

#include "common/result.h"
#include "devices/io_bus.h"
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

  explicit I8042(StopCallback stop) : stop_(std::move(stop)) {}
  void read(uint16_t offset, std::span<uint8_t> data) override;
  void write(uint16_t offset, std::span<const uint8_t> data) override;

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
  State state();
  void restore(const State& state);

 private:
  uint8_t read_register(uint16_t offset);
  // Returns true when the write asks for a reset.
  bool write_command(uint8_t command);
  bool write_data(uint8_t value);
  uint8_t status() const;

  StopCallback stop_;
  std::mutex mutex_;
  std::optional<uint8_t> output_buffer_;
  std::optional<uint8_t> pending_command_;  // a command whose parameter is the next data write
  uint8_t command_byte_ = 0x45;  // translate, system flag, keyboard interrupt: as firmware leaves it
  bool last_write_was_command_ = false;
};

}  // namespace vmhive::devices
