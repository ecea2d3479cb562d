// The PS/2 keyboard behind the i8042's first port: it answers the commands
// a guest's driver sends it (Linux's atkbd identifies it, resets it, sets
// its LEDs, typematic rate and scan code set, enables it) and types the key
// sequences the VMM is asked for (Ctrl-Alt-Del, Firecracker's
// SendCtrlAltDel). Its bytes are scan code set 2, as a keyboard sends them;
// the controller translates them to set 1 when its command byte says so
// (devices/legacy/i8042.h). Nobody holds real keys, so typing is the only
// way a key is pressed.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "common/result.h"

namespace vmhive::devices {

class Ps2Keyboard {
 public:
  // What a keyboard keeps for the host: 16 bytes, as i8042-era keyboards do.
  static constexpr size_t kQueueLimit = 16;
  static constexpr uint8_t kAck = 0xfa;
  static constexpr uint8_t kResend = 0xfe;
  static constexpr uint8_t kSelfTestPassed = 0xaa;
  static constexpr uint8_t kEcho = 0xee;
  // The identity an MF2 keyboard reports (0xf2): 0xab 0x83.
  static constexpr uint8_t kId[2] = {0xab, 0x83};

  // A byte the guest wrote to the keyboard (a command or its parameter).
  // The keyboard drops what it had not sent yet, as a real one does.
  void receive(uint8_t byte);
  // Presses Ctrl, Alt and Delete and lets them go again, in that order
  // (make codes, then break codes). An error if the queue has no room for
  // all of it: the guest is not reading its keyboard.
  Result<void> type_ctrl_alt_del();
  // The next byte for the controller, if any.
  std::optional<uint8_t> take();
  bool has_output() const { return !queue_.empty(); }

  // For snapshots; the defaults are a keyboard as it powers up.
  struct State {
    std::vector<uint8_t> queue;
    uint8_t pending_command = 0;  // a command waiting for its parameter; 0 if none
    bool scanning = true;
    uint8_t last_sent = kAck;

    template <class Codec, class Self>
    static Result<void> fields(Codec& codec, Self& self) {
      VMHIVE_CHECK(codec.field(self.pending_command, self.scanning, self.last_sent));
      return codec.bytes(self.queue, kQueueLimit, "keyboard queue");
    }
    Result<void> check() const;
  };
  State state() const;
  void restore(const State& state);

 private:
  void send(uint8_t byte);
  void reset_to_defaults();

  std::deque<uint8_t> queue_;
  uint8_t pending_command_ = 0;
  bool scanning_ = true;  // on after power-up, as a keyboard comes out of its self-test
  uint8_t last_sent_ = kAck;
};

}  // namespace vmhive::devices
