// virtio-net against a real tap, inside a network namespace of this test
// process's own: a frame the guest transmits comes out of the tap, a frame
// sent into the interface lands in a receive chain with its virtio header,
// and frames wait in the tap while the guest has no receive buffers.
#include "devices/virtio/net/net_device.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <fstream>
#include <optional>
#include <vector>

#include "common/unique_fd.h"
#include "virtqueue_driver.h"

namespace vmhive::virtio {
namespace {

using testing::kDescWrite;
using testing::TestDriver;

constexpr uint64_t kFrames = 0x100000;
constexpr uint16_t kEtherType = 0x88b5;

class NetDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::unshare(CLONE_NEWNET) != 0) {
      std::fprintf(stderr, "\n*** SKIPPED: cannot make a network namespace (needs root) ***\n\n");
      GTEST_SKIP() << "no network namespace";
    }
    // No IPv6 here: the interface would send its own router solicitations.
    for (const char* knob : {"/proc/sys/net/ipv6/conf/all/disable_ipv6", "/proc/sys/net/ipv6/conf/default/disable_ipv6"}) {
      std::ofstream(knob) << "1";
    }
    auto tap = NetBackend::open_tap("vmhtest0");
    ASSERT_TRUE(tap.ok()) << tap.error().message;
    device_ = std::make_unique<NetDevice>(std::move(*tap), std::array<uint8_t, 6>{0x52, 0x54, 0, 1, 2, 3});
    // Bring the interface up and open a packet socket on it: the host side.
    UniqueFd control(::socket(AF_INET, SOCK_DGRAM, 0));
    ifreq request{};
    std::strncpy(request.ifr_name, "vmhtest0", IFNAMSIZ - 1);
    ASSERT_EQ(::ioctl(control.get(), SIOCGIFFLAGS, &request), 0);
    request.ifr_flags |= IFF_UP;
    ASSERT_EQ(::ioctl(control.get(), SIOCSIFFLAGS, &request), 0);
    host_ = UniqueFd(::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(kEtherType)));
    ASSERT_TRUE(host_.valid());
    sockaddr_ll address{};
    address.sll_family = AF_PACKET;
    address.sll_protocol = htons(kEtherType);
    address.sll_ifindex = static_cast<int>(::if_nametoindex("vmhtest0"));
    ASSERT_EQ(::bind(host_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ifindex_ = address.sll_ifindex;
    ASSERT_TRUE(device_->activate(kFeatureVersion1).ok());
    auto queue = Virtqueue::create(memory_, rx_driver_.state(), 0);
    auto tx = Virtqueue::create(memory_, tx_driver_.state(), 0);
    ASSERT_TRUE(queue.ok() && tx.ok());
    rx_.emplace(std::move(*queue));
    tx_.emplace(std::move(*tx));
  }

  std::vector<uint8_t> ethernet_frame(uint8_t fill) {
    std::vector<uint8_t> frame(64, fill);
    std::memset(frame.data(), 0xff, 6);
    const uint8_t source[6] = {0x52, 0x54, 0, 9, 9, 9};
    std::memcpy(frame.data() + 6, source, 6);
    frame[12] = kEtherType >> 8;
    frame[13] = kEtherType & 0xff;
    return frame;
  }
  void host_send(uint8_t fill) {
    auto frame = ethernet_frame(fill);
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = ifindex_;
    to.sll_halen = 6;
    std::memset(to.sll_addr, 0xff, 6);
    ASSERT_EQ(::sendto(host_.get(), frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
              static_cast<ssize_t>(frame.size()));
  }

  GuestMemory memory_ = *GuestMemory::create({{0, 4ull << 20}});
  TestDriver rx_driver_{memory_, 8, 0x1000};
  TestDriver tx_driver_{memory_, 8, 0x20000};
  std::unique_ptr<NetDevice> device_;
  std::optional<Virtqueue> rx_, tx_;
  UniqueFd host_;
  int ifindex_ = 0;
};

TEST_F(NetDeviceTest, OffersWhatTheTapCanDo) {
  EXPECT_NE(device_->features() & NetDevice::kFeatureMac, 0u);
  EXPECT_NE(device_->features() & NetDevice::kFeatureCsum, 0u);
  EXPECT_NE(device_->features() & NetDevice::kFeatureGuestCsum, 0u) << "Linux taps take TUN_F_CSUM";
  std::array<uint8_t, 8> config{};
  device_->read_config(0, config);
  EXPECT_EQ(config[5], 3);
  EXPECT_EQ(config[6], 1) << "link up";
}

TEST_F(NetDeviceTest, TransmitsToTheTap) {
  auto frame = ethernet_frame(0x42);
  std::vector<uint8_t> with_header(NetDevice::kHeaderSize + frame.size(), 0);
  std::memcpy(with_header.data() + NetDevice::kHeaderSize, frame.data(), frame.size());
  ASSERT_TRUE(memory_.write(kFrames, with_header).ok());
  tx_driver_.set_descriptor(0, kFrames, static_cast<uint32_t>(with_header.size()), 0, 0);
  tx_driver_.publish(0);
  auto served = device_->process_queue(NetDevice::kTransmitQueue, *tx_);
  ASSERT_TRUE(served.ok() && *served);
  EXPECT_EQ(tx_driver_.used_index(), 1);
  std::array<uint8_t, 128> received{};
  const ssize_t length = ::recv(host_.get(), received.data(), received.size(), 0);
  ASSERT_EQ(length, 64) << std::strerror(errno);
  EXPECT_EQ(received[20], 0x42);
  EXPECT_EQ(device_->dropped(), 0u);
  EXPECT_EQ(device_->traffic().out_requests, 1u);
  EXPECT_EQ(device_->traffic().out_bytes, 64u) << "the frame, without the virtio-net header";
  EXPECT_EQ(device_->traffic().in_requests, 0u);
}

TEST_F(NetDeviceTest, ReceivesIntoChainsAndWaitsForBuffers) {
  host_send(0x17);
  host_send(0x18);
  // No buffers yet: nothing is read, nothing is lost.
  auto served = device_->process_queue(NetDevice::kReceiveQueue, *rx_);
  ASSERT_TRUE(served.ok());
  EXPECT_FALSE(*served);
  for (uint16_t i = 0; i < 2; ++i) {
    rx_driver_.set_descriptor(i, kFrames + 0x1000 * i, 2048, kDescWrite, 0);
    rx_driver_.publish(i);
  }
  served = device_->process_queue(NetDevice::kReceiveQueue, *rx_);
  ASSERT_TRUE(served.ok() && *served);
  ASSERT_EQ(rx_driver_.used_index(), 2);
  EXPECT_EQ(rx_driver_.used_element(0).second, NetDevice::kHeaderSize + 64);
  EXPECT_EQ(*memory_.read_obj<uint8_t>(kFrames + NetDevice::kHeaderSize + 20), 0x17);
  EXPECT_EQ(*memory_.read_obj<uint8_t>(kFrames + 0x1000 + NetDevice::kHeaderSize + 20), 0x18);
  EXPECT_EQ(device_->traffic().in_requests, 2u);
  EXPECT_EQ(device_->traffic().in_bytes, 128u);
}

TEST_F(NetDeviceTest, DropsFramesThatDoNotFitAndRunts) {
  host_send(0x01);
  rx_driver_.set_descriptor(0, kFrames, 32, kDescWrite, 0);  // too small for header + frame
  rx_driver_.publish(0);
  ASSERT_TRUE(device_->process_queue(NetDevice::kReceiveQueue, *rx_).ok());
  EXPECT_EQ(rx_driver_.used_element(0).second, 0u);
  EXPECT_EQ(device_->dropped(), 1u);
  tx_driver_.set_descriptor(0, kFrames, 10, 0, 0);  // shorter than the header
  tx_driver_.publish(0);
  ASSERT_TRUE(device_->process_queue(NetDevice::kTransmitQueue, *tx_).ok());
  EXPECT_EQ(device_->dropped(), 2u);
}

TEST(Tap, BadNamesAreRefused) {
  EXPECT_FALSE(NetBackend::open_tap("").ok());
  EXPECT_FALSE(NetBackend::open_tap("a-name-that-is-too-long").ok());
}

// On a socket (a socketpair end, as a honeyfarm's gateway would hand a
// clone): every message is one frame with its virtio header, both ways, and
// the guest is offered no offloads nobody would finish.
class NetDeviceOnASocket : public ::testing::Test {
 protected:
  void SetUp() override {
    int ends[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends), 0);
    peer_ = UniqueFd(ends[1]);
    auto backend = NetBackend::adopt_socket(ends[0]);
    ASSERT_TRUE(backend.ok()) << backend.error().message;
    EXPECT_EQ(backend->name(), "socket fd " + std::to_string(ends[0]));
    device_ = std::make_unique<NetDevice>(std::move(*backend), std::array<uint8_t, 6>{0x52, 0x54, 0, 1, 2, 3});
    ASSERT_TRUE(device_->activate(kFeatureVersion1).ok());
    auto rx = Virtqueue::create(memory_, rx_driver_.state(), 0);
    auto tx = Virtqueue::create(memory_, tx_driver_.state(), 0);
    ASSERT_TRUE(rx.ok() && tx.ok());
    rx_.emplace(std::move(*rx));
    tx_.emplace(std::move(*tx));
  }

  GuestMemory memory_ = *GuestMemory::create({{0, 4ull << 20}});
  TestDriver rx_driver_{memory_, 8, 0x1000};
  TestDriver tx_driver_{memory_, 8, 0x20000};
  std::unique_ptr<NetDevice> device_;
  std::optional<Virtqueue> rx_, tx_;
  UniqueFd peer_;
};

TEST_F(NetDeviceOnASocket, OffersNoOffloads) {
  const uint64_t features = device_->features();
  EXPECT_NE(features & NetDevice::kFeatureMac, 0u);
  for (uint64_t offload : {NetDevice::kFeatureCsum, NetDevice::kFeatureGuestCsum, NetDevice::kFeatureHostTso4,
                           NetDevice::kFeatureHostTso6, NetDevice::kFeatureGuestTso4})
    EXPECT_EQ(features & offload, 0u) << offload;
}

TEST_F(NetDeviceOnASocket, FramesGoBothWaysOneMessageEach) {
  std::vector<uint8_t> message(NetDevice::kHeaderSize + 60, 0);
  message[NetDevice::kHeaderSize + 20] = 0x42;
  ASSERT_TRUE(memory_.write(kFrames, message).ok());
  tx_driver_.set_descriptor(0, kFrames, static_cast<uint32_t>(message.size()), 0, 0);
  tx_driver_.publish(0);
  ASSERT_TRUE(device_->process_queue(NetDevice::kTransmitQueue, *tx_).ok());
  std::array<uint8_t, 2048> got{};
  ASSERT_EQ(::recv(peer_.get(), got.data(), got.size(), MSG_DONTWAIT), static_cast<ssize_t>(message.size()));
  EXPECT_EQ(got[NetDevice::kHeaderSize + 20], 0x42);

  // Two frames from the peer, then buffers for them.
  for (uint8_t fill : {0x17, 0x18}) {
    std::vector<uint8_t> frame(NetDevice::kHeaderSize + 64, fill);
    ASSERT_EQ(::send(peer_.get(), frame.data(), frame.size(), 0), static_cast<ssize_t>(frame.size()));
  }
  for (uint16_t i = 0; i < 2; ++i) {
    rx_driver_.set_descriptor(i, kFrames + 0x1000 * (i + 1), 2048, kDescWrite, 0);
    rx_driver_.publish(i);
  }
  ASSERT_TRUE(device_->process_queue(NetDevice::kReceiveQueue, *rx_).ok());
  ASSERT_EQ(rx_driver_.used_index(), 2);
  EXPECT_EQ(rx_driver_.used_element(1).second, NetDevice::kHeaderSize + 64);
  EXPECT_EQ(*memory_.read_obj<uint8_t>(kFrames + 0x2000 + 30), 0x18);
  EXPECT_EQ(device_->traffic().in_requests, 2u);
  EXPECT_EQ(device_->traffic().out_requests, 1u);
}

// The peer going away cuts the wire: nothing is received (no buffer is
// used up), and what the guest sends is dropped and counted.
TEST_F(NetDeviceOnASocket, APeerThatLeftIsACutWire) {
  peer_.reset();
  rx_driver_.set_descriptor(0, kFrames, 2048, kDescWrite, 0);
  rx_driver_.publish(0);
  auto served = device_->process_queue(NetDevice::kReceiveQueue, *rx_);
  ASSERT_TRUE(served.ok()) << served.error().message;
  EXPECT_FALSE(*served);
  EXPECT_EQ(rx_driver_.used_index(), 0);
  std::vector<uint8_t> message(NetDevice::kHeaderSize + 60, 0);
  ASSERT_TRUE(memory_.write(kFrames + 0x1000, message).ok());
  tx_driver_.set_descriptor(0, kFrames + 0x1000, static_cast<uint32_t>(message.size()), 0, 0);
  tx_driver_.publish(0);
  ASSERT_TRUE(device_->process_queue(NetDevice::kTransmitQueue, *tx_).ok());
  EXPECT_EQ(device_->dropped(), 1u);
}

TEST(NetBackendSocket, WhatIsNotAFrameSocketIsRefused) {
  EXPECT_NE(NetBackend::adopt_socket(1).error().message.find("3 or above"), std::string::npos);
  EXPECT_NE(NetBackend::adopt_socket(9999).error().message.find("not an open descriptor"), std::string::npos);
  int pipe_ends[2];
  ASSERT_EQ(::pipe2(pipe_ends, O_CLOEXEC), 0);
  UniqueFd read_end(pipe_ends[0]), write_end(pipe_ends[1]);
  EXPECT_NE(NetBackend::adopt_socket(read_end.get()).error().message.find("not a socket"), std::string::npos);
  int stream[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, stream), 0);
  UniqueFd a(stream[0]), b(stream[1]);
  EXPECT_NE(NetBackend::adopt_socket(a.get()).error().message.find("datagram or seqpacket"), std::string::npos);
  UniqueFd udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  EXPECT_NE(NetBackend::adopt_socket(udp.get()).error().message.find("not a Unix socket"), std::string::npos);
}

}  // namespace
}  // namespace vmhive::virtio
