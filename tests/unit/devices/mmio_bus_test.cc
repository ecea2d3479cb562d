// The MMIO bus: which ranges it accepts, how it routes accesses, and that a
// device may move its own range from inside an access (a BAR relocation).
#include "devices/mmio_bus.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

namespace vmhive {
namespace {

class RecordingDevice : public MmioDevice {
 public:
  void read(uint64_t offset, std::span<uint8_t> data) override {
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(offset + i);
    offsets.push_back(offset);
  }
  void write(uint64_t offset, std::span<const uint8_t> data) override {
    offsets.push_back(offset);
    written.assign(data.begin(), data.end());
  }
  std::vector<uint64_t> offsets;
  std::vector<uint8_t> written;
};

TEST(MmioBus, RejectsBadRanges) {
  RecordingDevice a, b;
  MmioBus bus;
  ASSERT_TRUE(bus.add(0xe0000000, 0x1000, &a).ok());
  EXPECT_FALSE(bus.add(0xe0000800, 0x1000, &b).ok());
  EXPECT_FALSE(bus.add(0xdffff000, 0x1001, &b).ok());
  EXPECT_FALSE(bus.add(0xe0000010, 4, &b).ok());
  EXPECT_FALSE(bus.add(0x1000, 0, &b).ok());
  EXPECT_FALSE(bus.add(~0ull - 10, 100, &b).ok());
  EXPECT_FALSE(bus.add(0x1000, 8, nullptr).ok());
  EXPECT_TRUE(bus.add(0xdffff000, 0x1000, &b).ok());
  EXPECT_TRUE(bus.add(0xe0001000, 0x1000, &b).ok());
  EXPECT_TRUE(bus.add(~0ull - 0x1fff, 0x1000, &b).ok());  // just below the top of the space
}

TEST(MmioBus, RoutesAccessesWhollyInsideARange) {
  RecordingDevice device;
  MmioBus bus;
  ASSERT_TRUE(bus.add(0xfe000000, 0x100, &device).ok());
  std::array<uint8_t, 4> data{};
  bus.read(0xfe000010, data);
  EXPECT_EQ(data, (std::array<uint8_t, 4>{0x10, 0x11, 0x12, 0x13}));
  const std::array<uint8_t, 8> value{1, 2, 3, 4, 5, 6, 7, 8};
  bus.write(0xfe0000f8, value);
  EXPECT_EQ(device.written, std::vector<uint8_t>(value.begin(), value.end()));
  EXPECT_EQ(device.offsets, (std::vector<uint64_t>{0x10, 0xf8}));
}

TEST(MmioBus, UnclaimedAndStraddlingAccessesFloat) {
  RecordingDevice device;
  MmioBus bus;
  ASSERT_TRUE(bus.add(0xfe000000, 0x100, &device).ok());
  std::array<uint8_t, 4> data{};
  bus.read(0xfd000000, data);
  EXPECT_EQ(data, (std::array<uint8_t, 4>{0xff, 0xff, 0xff, 0xff}));
  bus.read(0xfe0000fe, data);  // two bytes in, two past the end
  EXPECT_EQ(data, (std::array<uint8_t, 4>{0xff, 0xff, 0xff, 0xff}));
  bus.write(0xfe0000fe, data);
  bus.read(~0ull - 1, data);  // would wrap around the address space
  EXPECT_EQ(data, (std::array<uint8_t, 4>{0xff, 0xff, 0xff, 0xff}));
  EXPECT_TRUE(device.offsets.empty());
}

TEST(MmioBus, RemoveReleasesOnlyTheOwnersRange) {
  RecordingDevice a, b;
  MmioBus bus;
  ASSERT_TRUE(bus.add(0x1000, 0x100, &a).ok());
  EXPECT_FALSE(bus.remove(0x1000, &b));
  EXPECT_FALSE(bus.remove(0x1010, &a));
  EXPECT_TRUE(bus.remove(0x1000, &a));
  std::array<uint8_t, 1> data{};
  bus.read(0x1000, data);
  EXPECT_EQ(data[0], 0xff);
  EXPECT_TRUE(bus.add(0x1000, 0x100, &b).ok());
}

// A device that moves itself when written, as a BAR does.
class MovingDevice : public MmioDevice {
 public:
  explicit MovingDevice(MmioBus& bus) : bus_(bus) {}
  void read(uint64_t, std::span<uint8_t> data) override { std::fill(data.begin(), data.end(), 0x42); }
  void write(uint64_t, std::span<const uint8_t> data) override {
    uint64_t new_base = 0;
    for (size_t i = 0; i < data.size(); ++i) new_base |= uint64_t{data[i]} << (8 * i);
    ASSERT_TRUE(bus_.remove(base, this));
    ASSERT_TRUE(bus_.add(new_base, 0x10, this).ok());
    base = new_base;
  }
  uint64_t base = 0x2000;

 private:
  MmioBus& bus_;
};

TEST(MmioBus, ADeviceMayMoveItselfFromInsideAnAccess) {
  MmioBus bus;
  MovingDevice device(bus);
  ASSERT_TRUE(bus.add(device.base, 0x10, &device).ok());
  const std::array<uint8_t, 4> new_base{0x00, 0x30, 0x00, 0x00};
  bus.write(0x2000, new_base);
  std::array<uint8_t, 1> data{};
  bus.read(0x3000, data);
  EXPECT_EQ(data[0], 0x42);
  bus.read(0x2000, data);
  EXPECT_EQ(data[0], 0xff);
}

}  // namespace
}  // namespace vmhive
