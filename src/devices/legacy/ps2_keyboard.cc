#include "devices/legacy/ps2_keyboard.h"

#include <string>

namespace vmhive::devices {
namespace {

// Keyboard commands (bytes written to the i8042's data port).
constexpr uint8_t kSetLeds = 0xed;
constexpr uint8_t kEchoCommand = 0xee;
constexpr uint8_t kScanCodeSet = 0xf0;
constexpr uint8_t kIdentify = 0xf2;
constexpr uint8_t kTypematic = 0xf3;
constexpr uint8_t kEnableScanning = 0xf4;
constexpr uint8_t kDisableScanning = 0xf5;
constexpr uint8_t kSetDefaults = 0xf6;
constexpr uint8_t kResendCommand = 0xfe;
constexpr uint8_t kReset = 0xff;

// Scan code set 2: the break code of a key is its make code after 0xf0
// (after 0xe0 0xf0 for an extended key).
constexpr uint8_t kExtended = 0xe0;
constexpr uint8_t kBreak = 0xf0;
constexpr uint8_t kLeftCtrl = 0x14;
constexpr uint8_t kLeftAlt = 0x11;
constexpr uint8_t kDelete = 0x71;  // extended

constexpr uint8_t kOnlySet = 2;  // the one set this keyboard speaks

}  // namespace

void Ps2Keyboard::send(uint8_t byte) {
  if (queue_.size() < kQueueLimit) queue_.push_back(byte);
  last_sent_ = byte;
}

void Ps2Keyboard::reset_to_defaults() {
  pending_command_ = 0;
  scanning_ = true;
}

void Ps2Keyboard::receive(uint8_t byte) {
  queue_.clear();
  if (pending_command_ != 0) {
    const uint8_t command = pending_command_;
    pending_command_ = 0;
    if (command == kScanCodeSet && byte == 0) {
      send(kAck);
      send(kOnlySet);
    } else if (command == kScanCodeSet && byte != kOnlySet) {
      send(kResend);  // sets 1 and 3 are not spoken here
    } else {
      send(kAck);  // the LEDs, the typematic rate, set 2: taken
    }
    return;
  }
  switch (byte) {
    case kSetLeds:
    case kTypematic:
    case kScanCodeSet:
      pending_command_ = byte;
      send(kAck);
      return;
    case kEchoCommand: send(kEcho); return;
    case kIdentify:
      send(kAck);
      send(kId[0]);
      send(kId[1]);
      return;
    case kEnableScanning:
      scanning_ = true;
      send(kAck);
      return;
    case kDisableScanning:
      reset_to_defaults();
      scanning_ = false;
      send(kAck);
      return;
    case kSetDefaults:
      reset_to_defaults();
      send(kAck);
      return;
    case kResendCommand: send(last_sent_); return;
    case kReset:
      reset_to_defaults();
      send(kAck);
      send(kSelfTestPassed);
      return;
    default:
      // 0xf7-0xfd are set 3's per-key commands: this keyboard does not speak set 3.
      send(kResend);
      return;
  }
}

Result<void> Ps2Keyboard::type_ctrl_alt_del() {
  static constexpr uint8_t kKeys[] = {kLeftCtrl,          kLeftAlt, kExtended, kDelete,  kExtended,
                                      kBreak,    kDelete, kBreak,   kLeftAlt,  kBreak, kLeftCtrl};
  if (!scanning_) return make_error("the guest has turned its keyboard's scanning off");
  if (kQueueLimit - queue_.size() < sizeof kKeys)
    return make_error("the keyboard's buffer is full: the guest is not reading its keyboard");
  for (uint8_t byte : kKeys) send(byte);
  return {};
}

std::optional<uint8_t> Ps2Keyboard::take() {
  if (queue_.empty()) return std::nullopt;
  const uint8_t byte = queue_.front();
  queue_.pop_front();
  return byte;
}

Result<void> Ps2Keyboard::State::check() const {
  if (pending_command != 0 && pending_command != kSetLeds && pending_command != kTypematic &&
      pending_command != kScanCodeSet)
    return make_error("keyboard command " + std::to_string(pending_command) + " takes no parameter");
  return {};
}

Ps2Keyboard::State Ps2Keyboard::state() const {
  return State{std::vector<uint8_t>(queue_.begin(), queue_.end()), pending_command_, scanning_, last_sent_};
}

void Ps2Keyboard::restore(const State& state) {
  queue_.assign(state.queue.begin(), state.queue.end());
  pending_command_ = state.pending_command;
  scanning_ = state.scanning;
  last_sent_ = state.last_sent;
}

}  // namespace vmhive::devices
