// The keyboard's answers to a driver's commands and the keys it types.
#include "devices/legacy/ps2_keyboard.h"

#include <gtest/gtest.h>

#include <vector>

#include "common/state_codec.h"

namespace vmhive::devices {
namespace {

std::vector<uint8_t> drain(Ps2Keyboard& keyboard) {
  std::vector<uint8_t> bytes;
  while (auto byte = keyboard.take()) bytes.push_back(*byte);
  return bytes;
}

using Bytes = std::vector<uint8_t>;

TEST(Ps2Keyboard, AnswersWhatLinuxAtkbdAsks) {
  Ps2Keyboard keyboard;
  keyboard.receive(0xf2);  // identify
  EXPECT_EQ(drain(keyboard), (Bytes{0xfa, 0xab, 0x83}));
  keyboard.receive(0xff);  // reset: acknowledged, then the self-test's result
  EXPECT_EQ(drain(keyboard), (Bytes{0xfa, 0xaa}));
  keyboard.receive(0xed);  // LEDs, then their bits
  EXPECT_EQ(drain(keyboard), (Bytes{0xfa}));
  keyboard.receive(0x07);
  EXPECT_EQ(drain(keyboard), (Bytes{0xfa}));
  keyboard.receive(0xf3);  // typematic rate, then its value
  keyboard.receive(0x20);
  EXPECT_EQ(drain(keyboard), (Bytes{0xfa}));  // the first ACK was dropped by the next byte, as a keyboard does
  keyboard.receive(0xf0);  // which scan code set?
  keyboard.receive(0x00);
  EXPECT_EQ(drain(keyboard), (Bytes{0xfa, 0x02}));
  keyboard.receive(0xf0);  // set 3: not spoken here
  keyboard.receive(0x03);
  EXPECT_EQ(drain(keyboard), (Bytes{0xfe}));
  keyboard.receive(0xee);
  EXPECT_EQ(drain(keyboard), (Bytes{0xee}));
  keyboard.receive(0xfe);  // resend
  EXPECT_EQ(drain(keyboard), (Bytes{0xee}));
  keyboard.receive(0xfb);  // a set-3 key command
  EXPECT_EQ(drain(keyboard), (Bytes{0xfe}));
  keyboard.receive(0xf4);
  EXPECT_EQ(drain(keyboard), (Bytes{0xfa}));
}

TEST(Ps2Keyboard, TypesCtrlAltDelInScanCodeSetTwo) {
  Ps2Keyboard keyboard;
  ASSERT_TRUE(keyboard.type_ctrl_alt_del().ok());
  EXPECT_EQ(drain(keyboard), (Bytes{0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14}));
}

TEST(Ps2Keyboard, RefusesKeysItCannotHoldOrIsNotScanningFor) {
  Ps2Keyboard keyboard;
  ASSERT_TRUE(keyboard.type_ctrl_alt_del().ok());
  const auto full = keyboard.type_ctrl_alt_del();  // 22 bytes do not fit in 16
  ASSERT_FALSE(full.ok());
  EXPECT_NE(full.error().message.find("not reading its keyboard"), std::string::npos);
  keyboard.receive(0xf5);  // scanning off (and the queue dropped)
  drain(keyboard);
  EXPECT_FALSE(keyboard.type_ctrl_alt_del().ok());
  keyboard.receive(0xf4);
  drain(keyboard);
  EXPECT_TRUE(keyboard.type_ctrl_alt_del().ok());
}

TEST(Ps2Keyboard, StateRoundTripsAndAHostileOneIsRefused) {
  Ps2Keyboard keyboard;
  keyboard.receive(0xed);  // waiting for the LEDs
  ASSERT_TRUE(keyboard.type_ctrl_alt_del().ok());
  const auto bytes = encode_state(keyboard.state());
  auto decoded = decode_state<Ps2Keyboard::State>(bytes, "keyboard");
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  Ps2Keyboard copy;
  copy.restore(*decoded);
  EXPECT_EQ(drain(copy), drain(keyboard));
  copy.receive(0x01);  // the LEDs' parameter, still expected after the restore
  EXPECT_EQ(drain(copy), (Bytes{0xfa}));

  Ps2Keyboard::State hostile = keyboard.state();
  hostile.pending_command = 0xf4;  // takes no parameter
  EXPECT_FALSE(decode_state<Ps2Keyboard::State>(encode_state(hostile), "keyboard").ok());
  hostile = keyboard.state();
  hostile.queue.assign(17, 0x14);  // more than a keyboard holds
  EXPECT_FALSE(decode_state<Ps2Keyboard::State>(encode_state(hostile), "keyboard").ok());
}

}  // namespace
}  // namespace vmhive::devices
