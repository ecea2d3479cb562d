// The port-I/O exit path without KVM: a kvm_run laid out as KVM fills it.
#include "vmm/vcpu_loop.h"

#include <linux/kvm.h>

#include <cstring>
#include <vector>

#include <gtest/gtest.h>

namespace vmhive {
namespace {

class RecordingDevice final : public PioDevice {
 public:
  void read(uint16_t offset, std::span<uint8_t> data) override {
    for (auto& byte : data) byte = static_cast<uint8_t>(0x40 + offset);
    reads++;
  }
  void write(uint16_t offset, std::span<const uint8_t> data) override {
    for (auto byte : data) written.push_back({offset, byte});
  }
  std::vector<std::pair<uint16_t, uint8_t>> written;
  int reads = 0;
};

struct RunPage {
  alignas(4096) uint8_t bytes[4096] = {};
  kvm_run& run() { return *reinterpret_cast<kvm_run*>(bytes); }
  uint8_t* data() { return bytes + run().io.data_offset; }
};

TEST(HandlePortIo, RepOutsDeliversEveryElement) {
  RecordingDevice device;
  IoBus bus;
  ASSERT_TRUE(bus.add(0x80, 1, &device).ok());
  RunPage page;
  page.run().exit_reason = KVM_EXIT_IO;
  page.run().io = {KVM_EXIT_IO_OUT, 1, 0x80, 3, 1024};
  std::memcpy(page.data(), "\x01\x02\x03", 3);
  handle_port_io(page.run(), bus);
  ASSERT_EQ(device.written.size(), 3u);
  EXPECT_EQ(device.written[2].second, 3);
}

TEST(HandlePortIo, InFillsTheDataArea) {
  RecordingDevice device;
  IoBus bus;
  ASSERT_TRUE(bus.add(0x70, 2, &device).ok());
  RunPage page;
  page.run().io = {KVM_EXIT_IO_IN, 1, 0x71, 1, 1024};
  handle_port_io(page.run(), bus);
  EXPECT_EQ(page.data()[0], 0x41);
}

TEST(HandlePortIo, UnclaimedPortReadsAllOnes) {
  IoBus bus;
  RunPage page;
  page.run().io = {KVM_EXIT_IO_IN, 4, 0xcf8, 1, 1024};
  handle_port_io(page.run(), bus);
  uint32_t value;
  std::memcpy(&value, page.data(), 4);
  EXPECT_EQ(value, 0xffffffffu);
}

class RegisterDevice final : public MmioDevice {
 public:
  void read(uint64_t offset, std::span<uint8_t> data) override {
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(offset + i);
  }
  void write(uint64_t offset, std::span<const uint8_t> data) override {
    last_offset = offset;
    written.assign(data.begin(), data.end());
  }
  uint64_t last_offset = 0;
  std::vector<uint8_t> written;
};

TEST(HandleMmio, ReadsAndWritesReachTheDevice) {
  RegisterDevice device;
  MmioBus bus;
  ASSERT_TRUE(bus.add(0xfebf0000, 0x1000, &device).ok());
  RunPage page;
  page.run().exit_reason = KVM_EXIT_MMIO;
  page.run().mmio.phys_addr = 0xfebf0010;
  page.run().mmio.len = 4;
  page.run().mmio.is_write = 0;
  handle_mmio(page.run(), bus);
  EXPECT_EQ(page.run().mmio.data[0], 0x10);
  EXPECT_EQ(page.run().mmio.data[3], 0x13);

  page.run().mmio.phys_addr = 0xfebf0020;
  page.run().mmio.len = 8;
  page.run().mmio.is_write = 1;
  std::memcpy(page.run().mmio.data, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
  handle_mmio(page.run(), bus);
  EXPECT_EQ(device.last_offset, 0x20u);
  EXPECT_EQ(device.written, (std::vector<uint8_t>{1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST(HandleMmio, UnclaimedAddressReadsAllOnesAndOversizedLengthIsClamped) {
  MmioBus bus;
  RunPage page;
  page.run().mmio.phys_addr = 0xd0000000;
  page.run().mmio.len = 4096;  // KVM never reports more than 8; a corrupt value must not overrun
  page.run().mmio.is_write = 0;
  handle_mmio(page.run(), bus);
  for (uint8_t byte : page.run().mmio.data) EXPECT_EQ(byte, 0xff);
}

}  // namespace
}  // namespace vmhive
