// The modern virtio-pci transport with the entropy device behind it, driven
// the way Linux's virtio_pci_modern driver drives it: capabilities, feature
// negotiation, queue set-up, DRIVER_OK, a notification, the used ring and an
// MSI-X interrupt; then the ways a driver can get it wrong.
#include "devices/virtio/pci_transport.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "devices/virtio/rng/entropy_device.h"
#include "virtqueue_driver.h"

namespace vmhive::virtio {
namespace {

using testing::TestDriver;

class RecordingSink : public pci::MsiSink {
 public:
  void route(unsigned vector, const pci::MsiMessage& message) override { routes.push_back({vector, message}); }
  void signal(unsigned vector) override { signals.push_back(vector); }
  std::vector<std::pair<unsigned, pci::MsiMessage>> routes;
  std::vector<unsigned> signals;
};

class RecordingRegistrar : public NotifyRegistrar {
 public:
  void set_queue_notify_address(unsigned queue, std::optional<uint64_t> address) override {
    calls.push_back({queue, address});
  }
  std::vector<std::pair<unsigned, std::optional<uint64_t>>> calls;
};

class TransportTest : public ::testing::Test {
 protected:
  TransportTest()
      : memory_(*GuestMemory::create({{0, 4ull << 20}})),
        driver_(memory_, 8),
        transport_(device_, memory_, sink_, &registrar_) {}

  template <class T>
  T common(uint64_t offset) {
    T value{};
    transport_.bar_read(0, kCommonConfigOffset + offset, std::span(reinterpret_cast<uint8_t*>(&value), sizeof value));
    return value;
  }
  template <class T>
  void set_common(uint64_t offset, T value) {
    transport_.bar_write(0, kCommonConfigOffset + offset,
                         std::span(reinterpret_cast<const uint8_t*>(&value), sizeof value));
  }
  uint8_t status() { return common<uint8_t>(0x14); }
  void set_status(uint8_t value) { set_common<uint8_t>(0x14, value); }

  void enable_msix() {
    // The MSI-X capability is the last one; find it through the list.
    uint8_t offset = transport_.config().read16(pci::kCapabilitiesPointer) & 0xff;
    while (offset != 0 && (transport_.config().read16(offset) & 0xff) != pci::kMsixCapabilityId) {
      offset = static_cast<uint8_t>(transport_.config().read16(offset) >> 8);
    }
    ASSERT_NE(offset, 0);
    const uint16_t control = 1u << 15;
    transport_.config().write(offset + 2, std::span(reinterpret_cast<const uint8_t*>(&control), 2));
    transport_.config_written(offset + 2, 2);
    // Vector 0: an address and data, unmasked.
    const uint32_t entry[4] = {0xfee00000, 0, 0x41, 0};
    for (int i = 0; i < 4; ++i) {
      transport_.bar_write(0, kMsixTableOffset + 4 * i, std::span(reinterpret_cast<const uint8_t*>(&entry[i]), 4));
    }
  }

  // Linux's order (virtio spec §3.1.1): reset, ACKNOWLEDGE, DRIVER, features,
  // FEATURES_OK, queues, DRIVER_OK.
  void negotiate(uint64_t features, VirtqueueState queue) {
    set_status(0);
    set_status(kStatusAcknowledge);
    set_status(kStatusAcknowledge | kStatusDriver);
    set_common<uint32_t>(0x08, 0);
    set_common<uint32_t>(0x0c, static_cast<uint32_t>(features));
    set_common<uint32_t>(0x08, 1);
    set_common<uint32_t>(0x0c, static_cast<uint32_t>(features >> 32));
    set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
    set_common<uint16_t>(0x16, 0);
    set_common<uint16_t>(0x18, queue.size);
    set_common<uint16_t>(0x1a, 0);
    // 64-bit fields as two 32-bit halves, as vp_iowrite64_twopart does.
    set_common<uint32_t>(0x20, static_cast<uint32_t>(queue.descriptor_table));
    set_common<uint32_t>(0x24, static_cast<uint32_t>(queue.descriptor_table >> 32));
    set_common<uint32_t>(0x28, static_cast<uint32_t>(queue.available_ring));
    set_common<uint32_t>(0x2c, static_cast<uint32_t>(queue.available_ring >> 32));
    set_common<uint64_t>(0x30, queue.used_ring);
    set_common<uint16_t>(0x1c, 1);
    set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  }

  void ring_doorbell(uint16_t queue = 0) {
    transport_.bar_write(0, kNotifyOffset + kNotifyMultiplier * queue,
                         std::span(reinterpret_cast<const uint8_t*>(&queue), 2));
  }

  GuestMemory memory_;
  TestDriver driver_;
  EntropyDevice device_;
  RecordingSink sink_;
  RecordingRegistrar registrar_;
  PciTransport transport_;
};

TEST_F(TransportTest, PresentsAModernVirtioFunction) {
  const auto& config = transport_.config();
  EXPECT_EQ(config.read32(pci::kVendorId), 0x10441af4u) << "0x1040 + device type 4";
  EXPECT_GE(config.read16(pci::kSubsystemId), 0x40);
  EXPECT_EQ(config.bar_size(0), kBarSize);
  // Walk the capability list: common, notify, ISR, device, then MSI-X.
  std::vector<std::pair<uint8_t, uint8_t>> found;  // (capability ID, virtio cfg_type)
  for (uint8_t at = config.read16(pci::kCapabilitiesPointer) & 0xff; at != 0;
       at = static_cast<uint8_t>(config.read16(at) >> 8)) {
    found.push_back({static_cast<uint8_t>(config.read16(at)), static_cast<uint8_t>(config.read16(at + 2) >> 8)});
  }
  ASSERT_EQ(found.size(), 5u);
  EXPECT_EQ(found[0], (std::pair<uint8_t, uint8_t>{0x09, 1}));
  EXPECT_EQ(found[1], (std::pair<uint8_t, uint8_t>{0x09, 2}));
  EXPECT_EQ(found[2], (std::pair<uint8_t, uint8_t>{0x09, 3}));
  EXPECT_EQ(found[3], (std::pair<uint8_t, uint8_t>{0x09, 4}));
  EXPECT_EQ(found[4].first, pci::kMsixCapabilityId);
  EXPECT_EQ(common<uint16_t>(0x12), 1) << "one queue";
  set_common<uint32_t>(0x00, 1);
  EXPECT_EQ(common<uint32_t>(0x04) & 1, 1u) << "VERSION_1";
  set_common<uint32_t>(0x00, 0);
  EXPECT_EQ(common<uint32_t>(0x04), (1u << 28) | (1u << 29)) << "INDIRECT_DESC, EVENT_IDX";
  EXPECT_EQ(common<uint16_t>(0x18), 256) << "maximum queue size";
}

TEST_F(TransportTest, ServesEntropyAndInterrupts) {
  enable_msix();
  negotiate(kFeatureVersion1 | kFeatureEventIdx, driver_.state());
  EXPECT_EQ(status(), kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  EXPECT_EQ(common<uint16_t>(0x1a), 0) << "vector 0 accepted";

  ASSERT_TRUE(memory_.fill(0x100000, 0, 64).ok());
  driver_.set_descriptor(0, 0x100000, 64, testing::kDescWrite, 0);
  driver_.publish(0);
  ring_doorbell();
  EXPECT_EQ(driver_.used_index(), 1);
  EXPECT_EQ(driver_.used_element(0).second, 64u);
  std::vector<uint8_t> bytes(64);
  ASSERT_TRUE(memory_.read(0x100000, bytes).ok());
  EXPECT_NE(std::count(bytes.begin(), bytes.end(), 0), 64) << "64 random bytes are not all zero";
  EXPECT_EQ(sink_.signals, std::vector<unsigned>{0});
  EXPECT_EQ(driver_.available_event(), 1) << "EVENT_IDX: notify me at the next entry";

  uint8_t isr = 0;
  transport_.bar_read(0, kIsrOffset, std::span(&isr, 1));
  EXPECT_EQ(isr, 1);
  transport_.bar_read(0, kIsrOffset, std::span(&isr, 1));
  EXPECT_EQ(isr, 0) << "reading the ISR clears it";
}

TEST_F(TransportTest, CapsHugeEntropyRequests) {
  negotiate(kFeatureVersion1, driver_.state());
  driver_.set_descriptor(0, 0x100000, 1 << 20, testing::kDescWrite, 0);
  driver_.publish(0);
  ring_doorbell();
  EXPECT_EQ(driver_.used_element(0).second, EntropyDevice::kMaxBytesPerRequest);
}

TEST_F(TransportTest, RejectsFeaturesNotOffered) {
  negotiate(kFeatureVersion1 | (1ull << 5), driver_.state());
  EXPECT_EQ(status() & kStatusFeaturesOk, 0);
  EXPECT_EQ(status() & kStatusDriverOk, kStatusDriverOk) << "the driver's bit is kept";
  driver_.set_descriptor(0, 0x100000, 8, testing::kDescWrite, 0);
  driver_.publish(0);
  ring_doorbell();
  EXPECT_EQ(driver_.used_index(), 0) << "no queue runs without FEATURES_OK";
}

TEST_F(TransportTest, RequiresVersion1) {
  negotiate(kFeatureEventIdx, driver_.state());
  EXPECT_EQ(status() & kStatusFeaturesOk, 0);
}

TEST_F(TransportTest, ARingOutsideRamNeedsReset) {
  VirtqueueState state = driver_.state();
  state.used_ring = 1ull << 40;
  enable_msix();
  set_common<uint16_t>(0x10, 0);  // config vector 0
  negotiate(kFeatureVersion1, state);
  EXPECT_NE(status() & kStatusNeedsReset, 0);
  EXPECT_NE(transport_.failure().find("used ring"), std::string::npos) << transport_.failure();
}

TEST_F(TransportTest, AMalformedChainNeedsResetAndResetRecovers) {
  enable_msix();
  negotiate(kFeatureVersion1, driver_.state());
  driver_.set_descriptor(0, 0x100000, 8, testing::kDescWrite | testing::kDescNext, 0);  // loops
  driver_.publish(0);
  ring_doorbell();
  EXPECT_NE(status() & kStatusNeedsReset, 0);
  EXPECT_NE(transport_.failure().find("loops"), std::string::npos);
  ring_doorbell();  // ignored from now on
  EXPECT_EQ(driver_.used_index(), 0);

  // Reset, then a fresh ring works.
  set_status(0);
  EXPECT_EQ(status(), 0);
  EXPECT_EQ(common<uint16_t>(0x1a), kNoVector) << "vectors reset";
  TestDriver fresh(memory_, 8, 0x40000);
  negotiate(kFeatureVersion1, fresh.state());
  fresh.set_descriptor(0, 0x100000, 8, testing::kDescWrite, 0);
  fresh.publish(0);
  ring_doorbell();
  EXPECT_EQ(fresh.used_index(), 1);
}

TEST_F(TransportTest, QueueRegistersAreFixedOnceEnabledAndVectorsChecked) {
  set_common<uint16_t>(0x16, 0);
  set_common<uint16_t>(0x18, 1024);
  EXPECT_EQ(common<uint16_t>(0x18), 256) << "clamped to the maximum";
  set_common<uint16_t>(0x1a, 7);
  EXPECT_EQ(common<uint16_t>(0x1a), kNoVector) << "only vectors 0 and 1 exist";
  set_common<uint16_t>(0x1c, 1);
  set_common<uint16_t>(0x18, 16);
  EXPECT_EQ(common<uint16_t>(0x18), 256);
  set_common<uint16_t>(0x16, 5);
  EXPECT_EQ(common<uint16_t>(0x18), 0) << "a queue that does not exist has size 0";
  // Accesses past the common structure or into nowhere are harmless.
  set_common<uint32_t>(0x36, 0xffffffff);
  uint64_t junk = ~0ull;
  transport_.bar_write(0, 0x7ff8, std::span(reinterpret_cast<const uint8_t*>(&junk), 8));
  transport_.bar_write(3, 0, std::span(reinterpret_cast<const uint8_t*>(&junk), 8));
  transport_.bar_write(0, kNotifyOffset + 0x400, std::span(reinterpret_cast<const uint8_t*>(&junk), 2));
}

TEST_F(TransportTest, MovesDoorbellsWithTheBar) {
  transport_.bar_mapped(0, 0xc0000000);
  ASSERT_EQ(registrar_.calls.size(), 1u);
  EXPECT_EQ(registrar_.calls[0].second, 0xc0000000 + kNotifyOffset);
  transport_.bar_mapped(0, std::nullopt);
  EXPECT_EQ(registrar_.calls.back().second, std::nullopt);
}

// A device that leaves buffers on its queue (a receive queue with no frames
// yet) must not keep the transport spinning.
class IdleDevice : public VirtioDevice {
 public:
  DeviceType type() const override { return DeviceType::kNet; }
  uint64_t features() const override { return 0; }
  unsigned queue_count() const override { return 1; }
  void read_config(uint64_t, std::span<uint8_t> data) const override { std::fill(data.begin(), data.end(), 0); }
  Result<void> activate(uint64_t) override { return {}; }
  void reset() override {}
  Result<bool> process_queue(unsigned, Virtqueue&) override {
    ++calls;
    return false;
  }
  int calls = 0;
};

TEST(TransportIdle, BuffersLeftUnusedDoNotSpin) {
  GuestMemory memory = *GuestMemory::create({{0, 1 << 20}});
  TestDriver driver(memory, 8);
  IdleDevice device;
  RecordingSink sink;
  PciTransport transport(device, memory, sink);
  auto write = [&](uint64_t offset, auto value) {
    transport.bar_write(0, offset, std::span(reinterpret_cast<const uint8_t*>(&value), sizeof value));
  };
  write(0x14, uint8_t{3});
  write(0x08, uint32_t{1});
  write(0x0c, uint32_t{1});
  write(0x14, uint8_t{11});
  const VirtqueueState state = driver.state();
  write(0x20, state.descriptor_table);
  write(0x28, state.available_ring);
  write(0x30, state.used_ring);
  write(0x1c, uint16_t{1});
  write(0x14, uint8_t{15});
  driver.set_descriptor(0, 0x10000, 64, testing::kDescWrite, 0);
  driver.publish(0);
  device.calls = 0;
  transport.notify_queue(0);  // returns: the test would hang otherwise
  EXPECT_EQ(device.calls, 1);
  EXPECT_EQ(transport.status() & kStatusNeedsReset, 0);
}

}  // namespace
}  // namespace vmhive::virtio
