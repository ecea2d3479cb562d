#include "devices/legacy/i8042.h"

namespace vmhive::devices {
namespace {

// Status register bits.
constexpr uint8_t kStatusOutputFull = 1u << 0;
constexpr uint8_t kStatusSystemFlag = 1u << 2;  // set once the self-test passed
constexpr uint8_t kStatusLastWasCommand = 1u << 3;
constexpr uint8_t kStatusUnlocked = 1u << 4;

// Controller commands (written to 0x64).
constexpr uint8_t kReadCommandByte = 0x20;
constexpr uint8_t kWriteCommandByte = 0x60;
constexpr uint8_t kDisableAux = 0xa7;
constexpr uint8_t kEnableAux = 0xa8;
constexpr uint8_t kAuxInterfaceTest = 0xa9;
constexpr uint8_t kSelfTest = 0xaa;
constexpr uint8_t kKeyboardInterfaceTest = 0xab;
constexpr uint8_t kDisableKeyboard = 0xad;
constexpr uint8_t kEnableKeyboard = 0xae;
constexpr uint8_t kReadOutputPort = 0xd0;
constexpr uint8_t kWriteOutputPort = 0xd1;
constexpr uint8_t kWriteKeyboardOutput = 0xd2;  // the next data byte reads back as if the keyboard sent it
constexpr uint8_t kWriteAuxOutput = 0xd3;       // ... as if the mouse sent it: there is no mouse
constexpr uint8_t kWriteToAux = 0xd4;           // the next data byte is for the mouse: there is none
constexpr uint8_t kPulseResetLine = 0xfe;

// Command byte bits.
constexpr uint8_t kKeyboardInterrupt = 1u << 0;
constexpr uint8_t kKeyboardDisabled = 1u << 4;
constexpr uint8_t kTranslate = 1u << 6;

constexpr uint8_t kSelfTestPassed = 0x55;
constexpr uint8_t kInterfaceTestPassed = 0x00;
constexpr uint8_t kOutputPortResetBit = 1u << 0;  // active low: 0 holds the CPU in reset
constexpr uint8_t kOutputPortDefault = 0x03;     // CPU running, A20 enabled

// Scan code set 2 to set 1, for the bytes the keyboard sends: the keys it
// types and its identity's second byte. Prefixes (0xe0) and answers (0xfa,
// 0xaa, 0xee, 0xfe, 0xab) read the same in both sets.
constexpr uint8_t kSet2Break = 0xf0;
uint8_t to_set1(uint8_t set2) {
  switch (set2) {
    case 0x14: return 0x1d;  // left Ctrl
    case 0x11: return 0x38;  // left Alt
    case 0x71: return 0x53;  // Delete (after 0xe0)
    case 0x83: return 0x41;  // an MF2 keyboard's identity, translated
    default: return set2;
  }
}

}  // namespace

void I8042::read(uint16_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < data.size(); ++i) data[i] = read_register(static_cast<uint16_t>(offset + i));
}

uint8_t I8042::read_register(uint16_t offset) {
  if (offset == kCommandOffset) return status();
  if (offset != kDataOffset) return 0xff;
  uint8_t value = output_buffer_.value_or(0);
  output_buffer_.reset();
  output_from_keyboard_ = false;
  update_keyboard_irq();      // the line falls with the buffer emptied...
  deliver_keyboard_output();  // ...and rises again for the next byte: an edge each
  return value;
}

void I8042::deliver_keyboard_output() {
  while (!output_buffer_ && (command_byte_ & kKeyboardDisabled) == 0) {
    const std::optional<uint8_t> byte = keyboard_.take();
    if (!byte) break;
    uint8_t value = *byte;
    if ((command_byte_ & kTranslate) != 0) {
      if (value == kSet2Break) {
        translating_break_ = true;  // set 1 has no prefix: the key's code gets bit 7
        continue;
      }
      value = to_set1(value);
      if (translating_break_ && value < 0x80) value |= 0x80;
      if (value != 0xe0) translating_break_ = false;
    }
    output_buffer_ = value;
    output_from_keyboard_ = true;
  }
  update_keyboard_irq();
}

void I8042::update_keyboard_irq() {
  const bool level = output_buffer_ && output_from_keyboard_ && (command_byte_ & kKeyboardInterrupt) != 0;
  if (level == irq_level_) return;
  irq_level_ = level;
  if (keyboard_irq_) keyboard_irq_(level);
}

Result<void> I8042::press_ctrl_alt_del() {
  std::lock_guard lock(mutex_);
  VMHIVE_CHECK(keyboard_.type_ctrl_alt_del());
  deliver_keyboard_output();
  return {};
}

uint8_t I8042::status() const {
  uint8_t value = kStatusSystemFlag | kStatusUnlocked;
  if (output_buffer_) value |= kStatusOutputFull;
  if (last_write_was_command_) value |= kStatusLastWasCommand;
  return value;
}

void I8042::write(uint16_t offset, std::span<const uint8_t> data) {
  bool reset = false;
  {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < data.size(); ++i) {
      uint16_t port = static_cast<uint16_t>(offset + i);
      if (port == kCommandOffset) reset |= write_command(data[i]);
      if (port == kDataOffset) reset |= write_data(data[i]);
    }
    deliver_keyboard_output();  // the keyboard's answer, or a command byte that lets bytes through
  }
  if (reset) stop_(StopRequest{StopReason::kReset, 0});  // outside the lock, as StopCallback asks
}

bool I8042::write_command(uint8_t command) {
  last_write_was_command_ = true;
  pending_command_.reset();
  switch (command) {
    case kReadCommandByte: output_buffer_ = command_byte_; return false;
    case kWriteCommandByte:
    case kWriteOutputPort:
    case kWriteKeyboardOutput:
    case kWriteAuxOutput:
    case kWriteToAux: pending_command_ = command; return false;
    case kSelfTest: output_buffer_ = kSelfTestPassed; return false;
    case kKeyboardInterfaceTest:
    case kAuxInterfaceTest: output_buffer_ = kInterfaceTestPassed; return false;
    case kReadOutputPort: output_buffer_ = kOutputPortDefault; return false;
    case kDisableAux: command_byte_ |= 0x20; return false;
    case kEnableAux: command_byte_ &= static_cast<uint8_t>(~0x20); return false;
    case kDisableKeyboard: command_byte_ |= 0x10; return false;
    case kEnableKeyboard: command_byte_ &= static_cast<uint8_t>(~0x10); return false;
    case kPulseResetLine: return true;
    default: return false;  // other commands do nothing a keyboard-less guest can see
  }
}

bool I8042::write_data(uint8_t value) {
  last_write_was_command_ = false;
  auto command = pending_command_;
  pending_command_.reset();
  if (command == kWriteCommandByte) {
    command_byte_ = value;
    return false;
  }
  if (command == kWriteOutputPort) return (value & kOutputPortResetBit) == 0;
  if (command == kWriteKeyboardOutput) {
    output_buffer_ = value;
    output_from_keyboard_ = true;
    return false;
  }
  if (command == kWriteAuxOutput || command == kWriteToAux) return false;  // no mouse
  keyboard_.receive(value);
  // The keyboard's answer replaces what it had not sent yet, including a
  // byte of it still in the output buffer.
  if (output_from_keyboard_) {
    output_buffer_.reset();
    output_from_keyboard_ = false;
  }
  translating_break_ = false;
  return false;
}

I8042::State I8042::state() {
  std::lock_guard lock(mutex_);
  return State{output_buffer_, pending_command_, command_byte_, last_write_was_command_};
}

I8042::KeyboardState I8042::keyboard_state() {
  std::lock_guard lock(mutex_);
  return KeyboardState{keyboard_.state(), output_from_keyboard_, translating_break_};
}

void I8042::restore(const State& state, const KeyboardState& keyboard) {
  std::lock_guard lock(mutex_);
  output_buffer_ = state.output_buffer;
  pending_command_ = state.pending_command;
  command_byte_ = state.command_byte;
  last_write_was_command_ = state.last_write_was_command;
  keyboard_.restore(keyboard.keyboard);
  output_from_keyboard_ = keyboard.output_from_keyboard && output_buffer_.has_value();
  translating_break_ = keyboard.translating_break;
  // The line as the restored registers have it; KVM's interrupt
  // controllers kept whether the edge was seen.
  irq_level_ = output_buffer_ && output_from_keyboard_ && (command_byte_ & kKeyboardInterrupt) != 0;
}

}  // namespace vmhive::devices
