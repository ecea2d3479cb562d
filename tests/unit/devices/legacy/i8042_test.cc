// The keyboard controller's own commands, above all its reset line.
#include "devices/legacy/i8042.h"

#include <gtest/gtest.h>

#include "pio_test_support.h"

namespace vmhive::devices {
namespace {

using pio_test::in8;
using pio_test::out8;
using pio_test::StopRecorder;

constexpr uint16_t kData = I8042::kDataOffset;
constexpr uint16_t kCommand = I8042::kCommandOffset;
constexpr uint8_t kOutputFull = 0x01, kInputFull = 0x02, kSystemFlag = 0x04, kLastWasCommand = 0x08;

struct I8042Harness {
  StopRecorder stops;
  I8042 controller{stops.callback()};
  uint8_t status() { return in8(controller, kCommand); }
  uint8_t data() { return in8(controller, kData); }
  void command(uint8_t value) { out8(controller, kCommand, value); }
  void send(uint8_t value) { out8(controller, kData, value); }
};

TEST(I8042, IdleStatus) {
  I8042Harness h;
  const uint8_t status = h.status();
  EXPECT_EQ(status & kOutputFull, 0);
  EXPECT_EQ(status & kInputFull, 0);  // Linux's kb_wait() passes at once
  EXPECT_EQ(status & kSystemFlag, kSystemFlag);
  h.command(0xa8);
  EXPECT_EQ(h.status() & kLastWasCommand, kLastWasCommand);
}

TEST(I8042, PulseResetLineStopsWithReset) {
  I8042Harness h;
  h.command(0xfe);
  ASSERT_EQ(h.stops.requests.size(), 1u);
  EXPECT_EQ(h.stops.requests[0].reason, StopReason::kReset);
}

TEST(I8042, SelfTestAndInterfaceTest) {
  I8042Harness h;
  h.command(0xaa);
  EXPECT_EQ(h.status() & kOutputFull, kOutputFull);
  EXPECT_EQ(h.data(), 0x55);
  EXPECT_EQ(h.status() & kOutputFull, 0);  // reading the data port emptied it
  h.command(0xab);
  EXPECT_EQ(h.data(), 0x00);
  EXPECT_TRUE(h.stops.requests.empty());
}

TEST(I8042, CommandByteReadAndWrite) {
  I8042Harness h;
  h.command(0x60);
  EXPECT_EQ(h.status() & kOutputFull, 0);
  h.send(0x47);
  h.command(0x20);
  EXPECT_EQ(h.status() & kOutputFull, kOutputFull);
  EXPECT_EQ(h.data(), 0x47);
  h.send(0xf4);  // no command pending: a byte for the keyboard, which acknowledges it
  EXPECT_EQ(h.data(), 0xfa);
  h.command(0x20);
  EXPECT_EQ(h.data(), 0x47);
}

TEST(I8042, EnableAndDisableReachTheCommandByte) {
  I8042Harness h;
  h.command(0x60);
  h.send(0x00);
  h.command(0xa7);  // disable aux: bit 5
  h.command(0xad);  // disable keyboard: bit 4
  h.command(0x20);
  EXPECT_EQ(h.data(), 0x30);
  h.command(0xa8);
  h.command(0x20);
  EXPECT_EQ(h.data(), 0x10);
  h.command(0xae);
  h.command(0x20);
  EXPECT_EQ(h.data(), 0x00);
}

TEST(I8042, OutputPortWriteResetsOnlyWhenBitZeroIsClear) {
  I8042Harness h;
  h.command(0xd1);
  h.send(0x03);  // reset line stays high
  EXPECT_TRUE(h.stops.requests.empty());
  h.send(0x02);  // no command pending any more: ignored
  EXPECT_TRUE(h.stops.requests.empty());
  h.command(0xd1);
  h.send(0x02);  // reset line low
  ASSERT_EQ(h.stops.requests.size(), 1u);
  EXPECT_EQ(h.stops.requests[0].reason, StopReason::kReset);
}

TEST(I8042, CommandCancelsAPendingParameter) {
  I8042Harness h;
  h.command(0xd1);
  h.command(0xaa);
  h.send(0x00);  // not an output-port value any more
  EXPECT_TRUE(h.stops.requests.empty());
  EXPECT_EQ(h.data(), 0x55);
}

// IRQ 1's level, as KVM would see it: each rise is an edge the guest takes.
struct KeyboardHarness {
  StopRecorder stops;
  std::vector<bool> irq_levels;
  I8042 controller{stops.callback(), [this](bool level) { irq_levels.push_back(level); }};
  uint8_t status() { return in8(controller, kCommand); }
  uint8_t data() { return in8(controller, kData); }
  void command(uint8_t value) { out8(controller, kCommand, value); }
  void send(uint8_t value) { out8(controller, kData, value); }
  size_t edges() const {
    size_t rises = 0;
    for (bool level : irq_levels) rises += level ? 1 : 0;
    return rises;
  }
};

TEST(I8042, CtrlAltDelArrivesTranslatedToSetOneWithAnEdgePerByte) {
  KeyboardHarness h;  // the command byte as firmware leaves it: translate, keyboard interrupt
  ASSERT_TRUE(h.controller.press_ctrl_alt_del().ok());
  std::vector<uint8_t> bytes;
  while (h.status() & kOutputFull) bytes.push_back(h.data());
  EXPECT_EQ(bytes, (std::vector<uint8_t>{0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d}));
  EXPECT_EQ(h.edges(), bytes.size());
  ASSERT_FALSE(h.irq_levels.empty());
  EXPECT_FALSE(h.irq_levels.back()) << "the line is low once everything was read";
}

TEST(I8042, WithoutTranslationTheKeyboardsOwnSetTwoComesThrough) {
  KeyboardHarness h;
  h.command(0x60);
  h.send(0x05);  // keyboard interrupt and system flag only
  ASSERT_TRUE(h.controller.press_ctrl_alt_del().ok());
  std::vector<uint8_t> bytes;
  while (h.status() & kOutputFull) bytes.push_back(h.data());
  EXPECT_EQ(bytes, (std::vector<uint8_t>{0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14}));
}

TEST(I8042, KeyboardAnswersTakeTheDataPortAndIdentifyIsTranslated) {
  KeyboardHarness h;
  h.send(0xf2);
  EXPECT_EQ(h.data(), 0xfa);
  EXPECT_EQ(h.data(), 0xab);
  EXPECT_EQ(h.data(), 0x41);  // 0x83 through the translation, as Linux's atkbd expects
  EXPECT_EQ(h.status() & kOutputFull, 0);
  EXPECT_EQ(h.edges(), 3u);
}

TEST(I8042, ADisabledKeyboardOrInterruptHoldsTheBytesBack) {
  KeyboardHarness h;
  h.command(0xad);  // keyboard port off: its bytes wait
  ASSERT_TRUE(h.controller.press_ctrl_alt_del().ok());
  EXPECT_EQ(h.status() & kOutputFull, 0);
  EXPECT_EQ(h.edges(), 0u);
  h.command(0xae);
  EXPECT_EQ(h.status() & kOutputFull, kOutputFull);
  EXPECT_EQ(h.edges(), 1u);
  EXPECT_EQ(h.data(), 0x1d);
  h.command(0x60);
  h.send(0x44);  // translate on, interrupt off: polled, no IRQ
  const size_t before = h.edges();
  EXPECT_EQ(h.data(), 0x38);
  EXPECT_EQ(h.edges(), before);
}

TEST(I8042, BytesForTheMissingMouseGoNowhere) {
  KeyboardHarness h;
  h.command(0xd4);
  h.send(0xf2);  // for the mouse: no answer from anyone
  EXPECT_EQ(h.status() & kOutputFull, 0);
  h.command(0xd2);
  h.send(0x42);  // as if the keyboard sent it
  EXPECT_EQ(h.data(), 0x42);
}

TEST(I8042, KeyboardStateSurvivesASnapshot) {
  KeyboardHarness h;
  ASSERT_TRUE(h.controller.press_ctrl_alt_del().ok());
  EXPECT_EQ(h.data(), 0x1d);
  EXPECT_EQ(h.data(), 0x38);
  EXPECT_EQ(h.data(), 0xe0);
  EXPECT_EQ(h.data(), 0x53);
  EXPECT_EQ(h.data(), 0xe0);  // the break prefix of Delete is next
  const auto state = h.controller.state();
  const auto keyboard = h.controller.keyboard_state();
  KeyboardHarness copy;
  copy.controller.restore(state, keyboard);
  std::vector<uint8_t> rest;
  while (copy.status() & kOutputFull) rest.push_back(copy.data());
  EXPECT_EQ(rest, (std::vector<uint8_t>{0xd3, 0xb8, 0x9d}));
}

TEST(I8042, ResetCallbackMayReenterTheController) {
  // The stop callback runs outside the controller's lock.
  int status_seen = -1;
  I8042* controller_ptr = nullptr;
  I8042 controller([&](const StopRequest&) { status_seen = in8(*controller_ptr, kCommand); });
  controller_ptr = &controller;
  out8(controller, kCommand, 0xfe);
  EXPECT_GE(status_seen, 0);
}

}  // namespace
}  // namespace vmhive::devices
