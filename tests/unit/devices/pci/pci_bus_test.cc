// PCI bus 0 through both configuration mechanisms (ports 0xCF8/0xCFC and the
// ECAM window): enumeration, BAR assignment, and BARs appearing on, moving
// across and leaving the MMIO bus as the driver programs them.
#include "devices/pci/pci_bus.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "devices/pci/config_access.h"
#include "devices/pci/host_bridge.h"

namespace vmhive::pci {
namespace {

constexpr uint64_t kWindowBase = 0xc0000000;
constexpr uint64_t kWindowEnd = 0xe0000000;
constexpr uint64_t kEcamBase = 0xe0000000;

class TestDevice : public PciDevice {
 public:
  TestDevice() : config_(DeviceIdentity{0x1af4, 0x1044, 0x00ff00, 1, 0x1af4, 4}) {
    EXPECT_TRUE(config_.add_memory_bar(0, 0x4000, false, false).ok());
    EXPECT_TRUE(config_.add_memory_bar(2, 0x10000, true, false).ok());
  }
  ConfigSpace& config() override { return config_; }
  void bar_read(unsigned bar, uint64_t offset, std::span<uint8_t> data) override {
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(bar * 0x10 + offset + i);
  }
  void bar_write(unsigned bar, uint64_t offset, std::span<const uint8_t> data) override {
    writes.push_back({bar, offset, data.size()});
  }
  void bar_mapped(unsigned bar, std::optional<uint64_t> address) override { mappings.push_back({bar, address}); }
  void config_written(uint16_t offset, size_t length) override { config_writes.push_back({offset, length}); }

  struct Write {
    unsigned bar;
    uint64_t offset;
    size_t length;
  };
  std::vector<Write> writes;
  std::vector<std::pair<unsigned, std::optional<uint64_t>>> mappings;
  std::vector<std::pair<uint16_t, size_t>> config_writes;

 private:
  ConfigSpace config_;
};

class PciBusTest : public ::testing::Test {
 protected:
  PciBusTest() : bus_(mmio_, kWindowBase, kWindowEnd), ports_(bus_), ecam_(bus_) {
    EXPECT_TRUE(mmio_.add(kEcamBase, kEcamBytesPerBus, &ecam_).ok());
    EXPECT_EQ(*bus_.add(&bridge_), 0);
    EXPECT_EQ(*bus_.add(&device_), 1);
  }

  // Mechanism #1, as Linux's pci_conf1_read does it.
  uint32_t port_read(uint8_t device, uint16_t offset, size_t length = 4) {
    uint32_t address = 0x80000000u | (uint32_t{device} << 11) | (offset & 0xfc);
    ports_.write(0, std::span(reinterpret_cast<const uint8_t*>(&address), 4));
    uint32_t value = 0;
    ports_.read(static_cast<uint16_t>(4 + (offset & 3)), std::span(reinterpret_cast<uint8_t*>(&value), length));
    return value;
  }
  void port_write(uint8_t device, uint16_t offset, uint32_t value, size_t length = 4) {
    uint32_t address = 0x80000000u | (uint32_t{device} << 11) | (offset & 0xfc);
    ports_.write(0, std::span(reinterpret_cast<const uint8_t*>(&address), 4));
    ports_.write(static_cast<uint16_t>(4 + (offset & 3)), std::span(reinterpret_cast<const uint8_t*>(&value), length));
  }
  uint32_t ecam_read(uint8_t device, uint16_t offset, size_t length = 4) {
    uint32_t value = 0;
    mmio_.read(kEcamBase + (uint64_t{device} << 15) + offset, std::span(reinterpret_cast<uint8_t*>(&value), length));
    return value;
  }
  void ecam_write(uint8_t device, uint16_t offset, uint32_t value, size_t length = 4) {
    mmio_.write(kEcamBase + (uint64_t{device} << 15) + offset,
                std::span(reinterpret_cast<const uint8_t*>(&value), length));
  }
  uint32_t mmio_read32(uint64_t address) {
    uint32_t value = 0;
    mmio_.read(address, std::span(reinterpret_cast<uint8_t*>(&value), 4));
    return value;
  }

  MmioBus mmio_;
  PciBus bus_;
  ConfigPorts ports_;
  EcamWindow ecam_;
  HostBridge bridge_;
  TestDevice device_;
};

TEST_F(PciBusTest, EnumeratesThroughBothMechanisms) {
  EXPECT_EQ(port_read(0, 0), 0x00081b36u) << "host bridge";
  EXPECT_EQ(port_read(0, 8) >> 8, 0x060000u);
  EXPECT_EQ(port_read(1, 0), 0x10441af4u);
  EXPECT_EQ(ecam_read(1, 0), 0x10441af4u);
  EXPECT_EQ(ecam_read(1, 2, 2), 0x1044u);
  EXPECT_EQ(port_read(1, 2, 2), 0x1044u);
  EXPECT_EQ(port_read(2, 0), 0xffffffffu) << "empty slot";
  EXPECT_EQ(ecam_read(2, 0), 0xffffffffu);
  EXPECT_EQ(ecam_read(1, 0x100), 0u) << "no extended capabilities";
  // Function 1 and bus 1 do not exist.
  uint32_t value = 0;
  mmio_.read(kEcamBase + (1 << 15) + (1 << 12), std::span(reinterpret_cast<uint8_t*>(&value), 4));
  EXPECT_EQ(value, 0xffffffffu);
  EXPECT_EQ(mmio_read32(kEcamBase + kEcamBytesPerBus), 0xffffffffu) << "outside the window";
}

TEST_F(PciBusTest, PortMechanismNeedsTheEnableBitAndDwordAddressWrites) {
  uint32_t address = (1u << 11);  // enable bit clear
  ports_.write(0, std::span(reinterpret_cast<const uint8_t*>(&address), 4));
  uint32_t value = 0;
  ports_.read(4, std::span(reinterpret_cast<uint8_t*>(&value), 4));
  EXPECT_EQ(value, 0xffffffffu);
  uint32_t readback = 0;
  ports_.read(0, std::span(reinterpret_cast<uint8_t*>(&readback), 4));
  EXPECT_EQ(readback, address);
  const uint8_t reset_byte = 0x06;  // 0xCF9: not ours
  ports_.write(1, std::span(&reset_byte, 1));
  ports_.read(0, std::span(reinterpret_cast<uint8_t*>(&readback), 4));
  EXPECT_EQ(readback, address);
  // Misaligned data-port accesses read all ones.
  EXPECT_EQ(port_read(1, 3, 2), 0xffffu);
}

TEST_F(PciBusTest, AssignsBarsInTheWindow) {
  EXPECT_EQ(port_read(1, kBar0), kWindowBase);
  EXPECT_EQ(port_read(1, kBar0 + 8), (kWindowBase + 0x10000) | 0x4) << "64-bit BAR 2 aligned to its 64 KiB size";
  EXPECT_EQ(port_read(1, kBar0 + 12), 0u);
  EXPECT_FALSE(bus_.mapped_bar(1, 0)) << "decoding is off until the driver turns it on";
}

TEST_F(PciBusTest, MapsMovesAndUnmapsBars) {
  port_write(1, kCommand, kCommandMemorySpace, 2);
  ASSERT_EQ(bus_.mapped_bar(1, 0), kWindowBase);
  ASSERT_EQ(bus_.mapped_bar(1, 2), kWindowBase + 0x10000);
  EXPECT_EQ(mmio_read32(kWindowBase + 4), 0x07060504u);
  EXPECT_EQ(mmio_read32(kWindowBase + 0x10000), 0x23222120u);
  uint32_t value = 7;
  mmio_.write(kWindowBase + 0x10008, std::span(reinterpret_cast<const uint8_t*>(&value), 4));
  ASSERT_EQ(device_.writes.size(), 1u);
  EXPECT_EQ(device_.writes[0].bar, 2u);
  EXPECT_EQ(device_.writes[0].offset, 8u);

  ecam_write(1, kBar0, 0xd0000000);
  EXPECT_EQ(bus_.mapped_bar(1, 0), 0xd0000000u);
  EXPECT_EQ(mmio_read32(kWindowBase), 0xffffffffu) << "the old place is empty";
  EXPECT_EQ(mmio_read32(0xd0000000), 0x03020100u);

  port_write(1, kCommand, 0, 2);
  EXPECT_FALSE(bus_.mapped_bar(1, 0));
  EXPECT_EQ(mmio_read32(0xd0000000), 0xffffffffu);
  ASSERT_GE(device_.mappings.size(), 5u);
  EXPECT_EQ(device_.mappings.back().second, std::nullopt);
}

TEST_F(PciBusTest, SizingWithDecodingOffAndConflictingBarsStayUnmapped) {
  port_write(1, kBar0, 0xffffffff);
  EXPECT_EQ(port_read(1, kBar0), 0xffffc000u);
  port_write(1, kBar0, kWindowBase);
  // BAR 0 over the ECAM window: the BAR cannot decode there.
  port_write(1, kBar0, kEcamBase);
  port_write(1, kCommand, kCommandMemorySpace, 2);
  EXPECT_FALSE(bus_.mapped_bar(1, 0));
  EXPECT_EQ(ecam_read(1, 0), 0x10441af4u) << "ECAM still works";
  EXPECT_TRUE(bus_.mapped_bar(1, 2));
}

TEST_F(PciBusTest, TellsTheDeviceAboutConfigWrites) {
  ecam_write(1, 0x3c, 0x0b, 1);
  ASSERT_FALSE(device_.config_writes.empty());
  EXPECT_EQ(device_.config_writes.back(), (std::pair<uint16_t, size_t>{0x3c, 1}));
}

TEST_F(PciBusTest, RejectsBadSlots) {
  TestDevice other;
  EXPECT_FALSE(bus_.add(&other, 1).ok()) << "taken";
  EXPECT_FALSE(bus_.add(&other, 32).ok());
  EXPECT_FALSE(bus_.add(nullptr).ok());
  EXPECT_EQ(*bus_.add(&other, 5), 5);
  MmioBus mmio;
  PciBus tiny(mmio, kWindowBase, kWindowBase + 0x8000);
  TestDevice big;
  EXPECT_FALSE(tiny.add(&big).ok()) << "BARs do not fit the window";
}

}  // namespace
}  // namespace vmhive::pci
