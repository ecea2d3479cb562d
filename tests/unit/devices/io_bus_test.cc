// The port bus: which ranges it accepts and how it routes and splits accesses.
#include "devices/io_bus.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace vmhive {
namespace {

// Answers each byte with its offset and records every call it gets.
class RecordingDevice final : public PioDevice {
 public:
  struct Call {
    bool write;
    uint16_t offset;
    std::vector<uint8_t> bytes;
    bool operator==(const Call&) const = default;
  };

  void read(uint16_t offset, std::span<uint8_t> data) override {
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(0xa0 + offset + i);
    calls.push_back({false, offset, std::vector<uint8_t>(data.begin(), data.end())});
  }
  void write(uint16_t offset, std::span<const uint8_t> data) override {
    calls.push_back({true, offset, std::vector<uint8_t>(data.begin(), data.end())});
  }

  std::vector<Call> calls;
};

TEST(IoBus, RejectsBadRanges) {
  RecordingDevice a, b;
  IoBus bus;
  ASSERT_TRUE(bus.add(0x3f8, 8, &a).ok());
  EXPECT_FALSE(bus.add(0x3fc, 8, &b).ok());   // overlaps the end
  EXPECT_FALSE(bus.add(0x3f0, 9, &b).ok());   // overlaps the start
  EXPECT_FALSE(bus.add(0x3f9, 1, &b).ok());   // inside
  EXPECT_FALSE(bus.add(0x3f0, 32, &b).ok());  // covers it
  EXPECT_FALSE(bus.add(0x100, 0, &b).ok());   // zero length
  EXPECT_FALSE(bus.add(0xfff0, 0x11, &b).ok());  // runs past 0xffff
  EXPECT_FALSE(bus.add(0x200, 1, nullptr).ok());
  EXPECT_TRUE(bus.add(0x3f0, 8, &b).ok());       // adjacent below
  EXPECT_TRUE(bus.add(0x400, 1, &b).ok());       // adjacent above
  EXPECT_TRUE(bus.add(0xfff0, 0x10, &b).ok());   // ends exactly at 0xffff
}

TEST(IoBus, ErrorNamesTheRanges) {
  RecordingDevice a;
  IoBus bus;
  ASSERT_TRUE(bus.add(0x60, 5, &a).ok());
  auto result = bus.add(0x64, 2, &a);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("0x64-0x65"), std::string::npos) << result.error().message;
  EXPECT_NE(result.error().message.find("0x60-0x64"), std::string::npos) << result.error().message;
}

TEST(IoBus, RoutesToTheRightDeviceWithOffsets) {
  RecordingDevice rtc, uart;
  IoBus bus;
  ASSERT_TRUE(bus.add(0x3f8, 8, &uart).ok());
  ASSERT_TRUE(bus.add(0x70, 2, &rtc).ok());  // added out of order
  uint8_t byte = 0;
  bus.read(0x71, std::span(&byte, 1));
  EXPECT_EQ(byte, 0xa1);
  bus.read(0x3fd, std::span(&byte, 1));
  EXPECT_EQ(byte, 0xa5);
  const uint8_t value = 0x42;
  bus.write(0x3f8, std::span(&value, 1));
  ASSERT_EQ(rtc.calls.size(), 1u);
  ASSERT_EQ(uart.calls.size(), 2u);
  EXPECT_EQ(uart.calls.back(), (RecordingDevice::Call{true, 0, {0x42}}));
}

TEST(IoBus, WideAccessInsideOneRangeIsOneCall) {
  RecordingDevice device;
  IoBus bus;
  ASSERT_TRUE(bus.add(0x600, 4, &device).ok());
  const uint8_t word[4] = {1, 2, 3, 4};
  bus.write(0x600, word);
  uint8_t two[2] = {};
  bus.read(0x602, two);
  ASSERT_EQ(device.calls.size(), 2u);
  EXPECT_EQ(device.calls[0], (RecordingDevice::Call{true, 0, {1, 2, 3, 4}}));
  EXPECT_EQ(device.calls[1], (RecordingDevice::Call{false, 2, {0xa2, 0xa3}}));
}

TEST(IoBus, StraddlingAccessesSplitIntoBytes) {
  RecordingDevice low, high;
  IoBus bus;
  ASSERT_TRUE(bus.add(0x70, 2, &low).ok());
  ASSERT_TRUE(bus.add(0x72, 1, &high).ok());
  uint8_t four[4] = {};
  bus.read(0x71, four);  // 0x71 low, 0x72 high, 0x73-0x74 unclaimed
  EXPECT_EQ(four[0], 0xa1);
  EXPECT_EQ(four[1], 0xa0);
  EXPECT_EQ(four[2], 0xff);
  EXPECT_EQ(four[3], 0xff);
  const uint8_t two[2] = {7, 8};
  bus.write(0x71, two);
  EXPECT_EQ(low.calls.back(), (RecordingDevice::Call{true, 1, {7}}));
  EXPECT_EQ(high.calls.back(), (RecordingDevice::Call{true, 0, {8}}));
}

TEST(IoBus, UnclaimedPortsReadAllOnesAndIgnoreWrites) {
  RecordingDevice device;
  IoBus bus;
  ASSERT_TRUE(bus.add(0xfffe, 2, &device).ok());
  uint8_t four[4] = {};
  bus.read(0x80, four);
  for (uint8_t byte : four) EXPECT_EQ(byte, 0xff);
  const uint8_t word[4] = {1, 2, 3, 4};
  bus.write(0x80, word);
  EXPECT_TRUE(device.calls.empty());
  bus.read(0xfffe, four);  // runs off the end of the port space
  EXPECT_EQ(four[0], 0xa0);
  EXPECT_EQ(four[1], 0xa1);
  EXPECT_EQ(four[2], 0xff);
  EXPECT_EQ(four[3], 0xff);
}

TEST(IoBus, EmptyBusAndEmptyAccess) {
  IoBus bus;
  uint8_t byte = 0;
  bus.read(0x3f8, std::span(&byte, 1));
  EXPECT_EQ(byte, 0xff);
  bus.read(0x3f8, std::span<uint8_t>());
  bus.write(0x3f8, std::span<const uint8_t>());
}

}  // namespace
}  // namespace vmhive
