// The modern virtio-pci transport with the entropy device behind it, driven
// the way Linux's virtio_pci_modern driver drives it: capabilities, feature
// negotiation, queue set-up, DRIVER_OK, a notification, the used ring and an
// MSI-X interrupt; then the ways a driver can get it wrong, and a snapshot of
// a running device restored into a fresh transport.
#include "devices/virtio/pci_transport.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
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

// An entropy device that remembers how it was activated.
class ActivationRecordingEntropy : public EntropyDevice {
 public:
  Result<void> activate(uint64_t features) override {
    activations.push_back(features);
    return EntropyDevice::activate(features);
  }
  std::vector<uint64_t> activations;
};

// Entropy requests of 64 bytes: request i uses descriptor i and the buffer at
// kBuffers + 0x1000 * i.
constexpr uint64_t kBuffers = 0x100000;

class TransportSnapshotTest : public TransportTest {
 protected:
  void submit(uint16_t request) {
    ASSERT_TRUE(memory_.fill(kBuffers + 0x1000 * request, 0, 64).ok());
    driver_.set_descriptor(request, kBuffers + 0x1000 * request, 64, testing::kDescWrite, 0);
    driver_.publish(request);
  }
  bool buffer_is_zero(uint16_t request) {
    std::vector<uint8_t> bytes(64);
    EXPECT_TRUE(memory_.read(kBuffers + 0x1000 * request, bytes).ok());
    return std::count(bytes.begin(), bytes.end(), 0) == 64;
  }
  // A running device that has served three requests.
  PciTransport::State served_three() {
    enable_msix();
    negotiate(kFeatureVersion1 | kFeatureEventIdx, driver_.state());
    for (uint16_t request = 0; request < 3; ++request) {
      submit(request);
      ring_doorbell();
    }
    EXPECT_EQ(driver_.used_index(), 3);
    return transport_.state();
  }
  // `state` put into a transport freshly made for an entropy device.
  Result<void> restore_into_fresh(const PciTransport::State& state) {
    EntropyDevice device;
    RecordingSink sink;
    PciTransport fresh(device, memory_, sink);
    return fresh.restore(state);
  }
  static std::string message(const Result<void>& result) {
    return result.ok() ? std::string("(restored)") : result.error().message;
  }
};

TEST_F(TransportSnapshotTest, StateRecordsTheRunningQueue) {
  const PciTransport::State state = served_three();
  EXPECT_EQ(state.config_space.size(), 256u);
  EXPECT_EQ(state.status, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  EXPECT_EQ(state.driver_features, kFeatureVersion1 | kFeatureEventIdx);
  EXPECT_TRUE(state.msix.enabled);
  ASSERT_EQ(state.queues.size(), 1u);
  const PciTransport::QueueState& queue = state.queues[0];
  EXPECT_TRUE(queue.started);
  EXPECT_TRUE(queue.enabled);
  EXPECT_EQ(queue.size, 8);
  EXPECT_EQ(queue.vector, 0);
  EXPECT_EQ(queue.rings.descriptor_table, driver_.state().descriptor_table);
  EXPECT_EQ(queue.rings.available_ring, driver_.state().available_ring);
  EXPECT_EQ(queue.rings.used_ring, driver_.state().used_ring);
  EXPECT_EQ(queue.rings.next_available, 3);
  EXPECT_EQ(queue.rings.next_used, 3);
}

TEST_F(TransportSnapshotTest, ARestoredTransportContinuesTheRings) {
  const PciTransport::State state = served_three();

  ActivationRecordingEntropy device;
  RecordingSink sink;
  PciTransport restored(device, memory_, sink);
  auto result = restored.restore(state);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(device.activations, std::vector<uint64_t>{kFeatureVersion1 | kFeatureEventIdx});
  EXPECT_EQ(restored.status(), state.status);
  EXPECT_EQ(restored.config().bytes(), transport_.config().bytes());
  ASSERT_FALSE(sink.routes.empty());
  EXPECT_EQ(sink.routes[0], (std::pair<unsigned, pci::MsiMessage>{0, {0xfee00000, 0x41}}));

  // Nothing served twice: the requests before the snapshot stay done.
  ASSERT_TRUE(memory_.fill(kBuffers, 0, 3 * 0x1000).ok());
  submit(3);
  restored.notify_queue(0);
  EXPECT_EQ(driver_.used_index(), 4);
  EXPECT_EQ(driver_.used_element(3), (std::pair<uint32_t, uint32_t>{3, 64}));
  EXPECT_EQ(driver_.used_element(0), (std::pair<uint32_t, uint32_t>{0, 64})) << "slot 0 not overwritten";
  EXPECT_FALSE(buffer_is_zero(3));
  for (uint16_t request = 0; request < 3; ++request) EXPECT_TRUE(buffer_is_zero(request)) << "request " << request;
  EXPECT_EQ(driver_.available_event(), 4);
  EXPECT_TRUE(sink.signals.empty()) << "EVENT_IDX: the driver asked for an interrupt at entry 0, long past";

  submit(4);
  driver_.set_used_event(4);  // interrupt me for this one
  restored.notify_queue(0);
  EXPECT_EQ(driver_.used_index(), 5);
  EXPECT_EQ(driver_.used_element(4), (std::pair<uint32_t, uint32_t>{4, 64}));
  EXPECT_EQ(sink.signals, std::vector<unsigned>{0}) << "vector 0, as the driver programmed it";

  const PciTransport::State after = restored.state();
  EXPECT_EQ(after.queues[0].rings.next_available, 5);
  EXPECT_EQ(after.queues[0].rings.next_used, 5);
  EXPECT_EQ(after.queues[0].rings.used_at_last_interrupt, 5);
}

TEST_F(TransportSnapshotTest, ARestoreOfAnUnstartedDeviceActivatesNothing) {
  const PciTransport::State state = transport_.state();
  ActivationRecordingEntropy device;
  RecordingSink sink;
  PciTransport restored(device, memory_, sink);
  ASSERT_TRUE(restored.restore(state).ok());
  EXPECT_TRUE(device.activations.empty());
  EXPECT_EQ(restored.status(), 0);
  EXPECT_FALSE(restored.state().queues[0].started);
}

TEST_F(TransportSnapshotTest, RefusesAnotherQueueCount) {
  PciTransport::State state = served_three();
  state.queues.push_back(state.queues[0]);
  EXPECT_NE(message(restore_into_fresh(state)).find("2 queues saved, the device has 1"), std::string::npos);
  state.queues.clear();
  EXPECT_NE(message(restore_into_fresh(state)).find("0 queues saved"), std::string::npos);
}

TEST_F(TransportSnapshotTest, RefusesAQueueLargerThanTheDeviceAllows) {
  PciTransport::State state = served_three();
  state.queues[0].size = 512;
  state.queues[0].rings.size = 512;
  EXPECT_NE(message(restore_into_fresh(state)).find("queue 0: size 512 (at most 256)"), std::string::npos);
  state.queues[0].size = 8;
  state.queues[0].rings.size = 16;  // the rings disagree with the register
  EXPECT_FALSE(restore_into_fresh(state).ok());
}

TEST_F(TransportSnapshotTest, RefusesFeaturesTheDeviceDoesNotOffer) {
  PciTransport::State state = served_three();
  state.driver_features |= 1ull << 5;  // a block device's feature
  EXPECT_NE(message(restore_into_fresh(state)).find("features this device does not offer"), std::string::npos);
}

TEST_F(TransportSnapshotTest, RefusesAStartedQueueOnAStoppedDevice) {
  const PciTransport::State running = served_three();
  PciTransport::State state = running;
  state.status &= static_cast<uint8_t>(~kStatusDriverOk);
  EXPECT_NE(message(restore_into_fresh(state)).find("queue 0 runs while the device does not"), std::string::npos);
  state = running;
  state.status |= kStatusNeedsReset;
  EXPECT_FALSE(restore_into_fresh(state).ok()) << "a failed device runs no queue";
  state = running;
  state.queues[0].enabled = false;
  EXPECT_FALSE(restore_into_fresh(state).ok()) << "a queue the driver never enabled";
}

TEST_F(TransportSnapshotTest, RefusesAnotherDevicesConfiguration) {
  const PciTransport::State state = served_three();
  // A one-queue device of another type: another device ID and class in the
  // configuration space.
  class OneQueueNet : public EntropyDevice {
   public:
    DeviceType type() const override { return DeviceType::kNet; }
  } device;
  RecordingSink sink;
  PciTransport net(device, memory_, sink);
  auto result = net.restore(state);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("not this device's"), std::string::npos) << result.error().message;
}

TEST_F(TransportSnapshotTest, RefusesRingsOutsideRam) {
  PciTransport::State state = served_three();
  state.queues[0].rings.used_ring = 1ull << 40;
  EXPECT_NE(message(restore_into_fresh(state)).find("used ring"), std::string::npos);
}

// Every check comes before the first change: a state refused for its last
// queue, or by the device's activation, leaves the transport as it was.
TEST_F(TransportSnapshotTest, ARefusedRestoreChangesNothing) {
  const PciTransport::State good = served_three();
  EntropyDevice device;
  RecordingSink sink;
  PciTransport fresh(device, memory_, sink);
  const PciTransport::State before = fresh.state();
  PciTransport::State bad = good;
  bad.queues[0].rings.used_ring = 1ull << 40;  // found after the configuration space and MSI-X were checked
  ASSERT_FALSE(fresh.restore(bad).ok());
  const PciTransport::State after = fresh.state();
  EXPECT_EQ(after.config_space, before.config_space);
  EXPECT_EQ(after.msix.entries, before.msix.entries);
  EXPECT_EQ(after.msix.enabled, before.msix.enabled);
  EXPECT_EQ(after.status, before.status);
  EXPECT_EQ(after.driver_features, before.driver_features);
  EXPECT_FALSE(after.queues[0].started);
  EXPECT_EQ(after.queues[0].rings.used_ring, before.queues[0].rings.used_ring);
  EXPECT_TRUE(sink.routes.empty()) << "no MSI-X vector was routed";
  EXPECT_TRUE(fresh.restore(good).ok()) << "the same transport still takes a good state";

  class RefusingEntropy : public EntropyDevice {
   public:
    Result<void> activate(uint64_t) override { return make_error("cannot run with these features"); }
  } refusing;
  PciTransport refused(refusing, memory_, sink);
  auto result = refused.restore(good);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("cannot run with these features"), std::string::npos);
  EXPECT_EQ(refused.status(), 0) << "back to reset, as a driver would find a device it must set up again";
  EXPECT_FALSE(refused.state().queues[0].started);
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
  Result<std::vector<uint8_t>> save(const DeviceSaveContext&) override { return std::vector<uint8_t>{}; }
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
