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
constexpr uint8_t kPulseResetLine = 0xfe;

constexpr uint8_t kSelfTestPassed = 0x55;
constexpr uint8_t kInterfaceTestPassed = 0x00;
constexpr uint8_t kOutputPortResetBit = 1u << 0;  // active low: 0 holds the CPU in reset
constexpr uint8_t kOutputPortDefault = 0x03;     // CPU running, A20 enabled

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
  return value;
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
  }
  if (reset) stop_(StopRequest{StopReason::kReset, 0});  // outside the lock, as StopCallback asks
}

bool I8042::write_command(uint8_t command) {
  last_write_was_command_ = true;
  pending_command_.reset();
  switch (command) {
    case kReadCommandByte: output_buffer_ = command_byte_; return false;
    case kWriteCommandByte:
    case kWriteOutputPort: pending_command_ = command; return false;
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
  return false;  // bytes for a keyboard that is not there
}

I8042::State I8042::state() {
  std::lock_guard lock(mutex_);
  return State{output_buffer_, pending_command_, command_byte_, last_write_was_command_};
}

void I8042::restore(const State& state) {
  std::lock_guard lock(mutex_);
  output_buffer_ = state.output_buffer;
  pending_command_ = state.pending_command;
  command_byte_ = state.command_byte;
  last_write_was_command_ = state.last_write_was_command;
}

}  // namespace vmhive::devices
