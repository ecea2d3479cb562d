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

}  // namespace
}  // namespace vmhive
