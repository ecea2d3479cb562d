// The honeyfarm's low-interaction guest on a socket link (--net fd=3): the
// test is the network. It asks for the guest's address by ARP, pings it,
// opens a TCP connection to an open port and reads the banner, knocks on a
// closed one, sends it UDP, and throws malformed frames at it in between;
// every answer is parsed and its checksums recomputed from scratch.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "frame_builder.h"
#include "packet/frame.h"
#include "vm_process.h"

namespace vmhive::testing {
namespace {

using namespace std::chrono_literals;
using packet::load16;
using packet::load32;

constexpr size_t kVirtioHeader = 12;
constexpr uint32_t kGuest = ipv4_address(10, 0, 3, 4);
constexpr uint32_t kScanner = ipv4_address(10, 9, 0, 1);
constexpr uint8_t kGuestMac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0xaa};

class ResponderGuest : public ::testing::Test {
 protected:
  void SetUp() override { start_guest({}, ""); }
  // The guest on a link whose other end is wire_; `extra` arguments, more of
  // its command line, and descriptors it gets as 4, 5, ... (3 is the link).
  void start_guest(const std::vector<std::string>& extra, const std::string& cmdline, const std::vector<int>& fds = {}) {
    VMHIVE_REQUIRE_KVM();
    int ends[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends), 0);
    wire_ = ends[0];
    std::vector<std::string> args{"run", "--kernel", guest_path("responder"), "--mem", "16M", "--net",
                                  "fd=3,mac=02:00:00:00:00:aa", "--cmdline", "ip=10.0.3.4 ports=22,2323 " + cmdline};
    for (const std::string& arg : extra) args.push_back(arg);
    std::vector<int> all{ends[1]};
    for (int fd : fds) all.push_back(fd);
    vm_.emplace(VmProcess::start_with_fds(args, all));
    ::close(ends[1]);
    ASSERT_TRUE(vm_->wait_for_output("responder: ready ip 10.0.3.4, 2 open ports\n", 30s))
        << vm_->output() << vm_->errors();
  }
  void TearDown() override {
    if (wire_ >= 0) ::close(wire_);
  }

  void send_frame(const std::vector<uint8_t>& frame) {
    std::vector<uint8_t> message(kVirtioHeader, 0);
    message.insert(message.end(), frame.begin(), frame.end());
    ASSERT_EQ(::send(wire_, message.data(), message.size(), 0), static_cast<ssize_t>(message.size()));
  }
  // The guest's next frame, without its virtio header; nothing after 30 s.
  std::optional<std::vector<uint8_t>> next_frame(std::chrono::milliseconds timeout = 30s) {
    pollfd ready{wire_, POLLIN, 0};
    if (::poll(&ready, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    std::vector<uint8_t> message(4096);
    const ssize_t length = ::recv(wire_, message.data(), message.size(), 0);
    if (length < static_cast<ssize_t>(kVirtioHeader)) return std::nullopt;
    return std::vector<uint8_t>(message.begin() + kVirtioHeader, message.begin() + length);
  }
  FrameSpec to_guest(uint8_t protocol, uint16_t port) const {
    FrameSpec spec;
    spec.protocol = protocol;
    spec.source = kScanner;
    spec.destination = kGuest;
    spec.source_port = 40000;
    spec.destination_port = port;
    std::memcpy(spec.destination_mac, kGuestMac, 6);
    return spec;
  }
  // An answer to the scanner: IPv4 from the guest with intact checksums.
  static void expect_answer(const std::vector<uint8_t>& frame, uint8_t protocol) {
    const auto parsed = packet::parse_frame(frame);
    ASSERT_TRUE(parsed.ok()) << packet::refusal_name(parsed.refusal);
    EXPECT_EQ(parsed.ip.protocol, protocol);
    EXPECT_EQ(parsed.ip.source, kGuest);
    EXPECT_EQ(parsed.ip.destination, kScanner);
    EXPECT_EQ(std::memcmp(parsed.source_mac, kGuestMac, 6), 0);
    EXPECT_TRUE(checksums_hold(frame));
  }

  std::optional<VmProcess> vm_;
  int wire_ = -1;
};

TEST_F(ResponderGuest, AnswersArpPingTcpAndUdpAndShrugsOffGarbage) {
  // ARP: who has 10.0.3.4?
  std::vector<uint8_t> arp(42, 0);
  std::memset(arp.data(), 0xff, 6);
  std::memset(arp.data() + 6, 0x04, 6);
  packet::store16(&arp[12], packet::kEtherTypeArp);
  packet::store16(&arp[14], 1);
  packet::store16(&arp[16], packet::kEtherTypeIpv4);
  arp[18] = 6;
  arp[19] = 4;
  packet::store16(&arp[20], 1);
  std::memset(&arp[22], 0x04, 6);
  packet::store32(&arp[28], kScanner);
  packet::store32(&arp[38], kGuest);
  send_frame(arp);
  auto reply = next_frame();
  ASSERT_TRUE(reply.has_value()) << vm_->errors();
  auto parsed = packet::parse_frame(*reply);
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed.kind, packet::FrameKind::kArp);
  EXPECT_EQ(parsed.arp.operation, 2);
  EXPECT_EQ(parsed.arp.sender_ip, kGuest);
  EXPECT_EQ(std::memcmp(parsed.arp.sender_mac, kGuestMac, 6), 0);
  EXPECT_EQ(parsed.arp.target_ip, kScanner);

  // Garbage first: a runt, a bad IP checksum, a fragment, a TCP header longer than its segment.
  send_frame({0x02, 0x00});
  auto bad = build_frame(to_guest(packet::kProtocolIcmp, 0));
  bad[24] ^= 0xff;
  send_frame(bad);
  auto fragment = build_frame(to_guest(packet::kProtocolUdp, 53));
  packet::store16(&fragment[20], 0x2000);
  packet::store16(&fragment[24], 0);
  packet::store16(&fragment[24], packet::finish_checksum(packet::ones_sum(std::span(&fragment[14], 20))));
  send_frame(fragment);
  auto long_header = build_frame(to_guest(packet::kProtocolTcp, 22));
  long_header[46] = 0xf0;
  send_frame(long_header);

  // Ping: the same identifier and data come back.
  auto ping_spec = to_guest(packet::kProtocolIcmp, 0);
  ping_spec.source_port = 0x4242;
  ping_spec.payload = {'h', 'e', 'l', 'l', 'o'};
  send_frame(build_frame(ping_spec));
  reply = next_frame();
  ASSERT_TRUE(reply.has_value()) << "no echo reply (or a garbage frame was answered); " << vm_->errors();
  expect_answer(*reply, packet::kProtocolIcmp);
  parsed = packet::parse_frame(*reply);
  EXPECT_EQ(parsed.ip.icmp_type, 0);
  EXPECT_EQ(parsed.ip.source_port, 0x4242);
  const auto datagram_end = reply->begin() + static_cast<long>(packet::kEthernetHeader + parsed.ip.total_length);
  EXPECT_EQ(std::string(datagram_end - 5, datagram_end), "hello") << "(the frame is padded to 60 bytes after it)";

  // TCP to an open port: SYN, SYN-ACK, ACK, then the banner.
  auto syn = to_guest(packet::kProtocolTcp, 22);
  syn.sequence = 1000;
  send_frame(build_frame(syn));
  reply = next_frame();
  ASSERT_TRUE(reply.has_value());
  expect_answer(*reply, packet::kProtocolTcp);
  parsed = packet::parse_frame(*reply);
  EXPECT_EQ(parsed.ip.tcp_flags, 0x12) << "SYN-ACK";
  const uint8_t* tcp = reply->data() + parsed.ip.transport_offset();
  EXPECT_EQ(load32(tcp + 8), 1001u);
  const uint32_t guest_sequence = load32(tcp + 4);
  auto ack = to_guest(packet::kProtocolTcp, 22);
  ack.tcp_flags = 0x10;
  ack.sequence = 1001;
  ack.acknowledgement = guest_sequence + 1;
  send_frame(build_frame(ack));
  reply = next_frame();
  ASSERT_TRUE(reply.has_value());
  expect_answer(*reply, packet::kProtocolTcp);
  parsed = packet::parse_frame(*reply);
  EXPECT_EQ(parsed.ip.tcp_flags, 0x18) << "PSH-ACK";
  const std::string banner(reply->begin() + static_cast<long>(parsed.ip.transport_offset() + 20),
                           reply->begin() + static_cast<long>(packet::kEthernetHeader + parsed.ip.total_length));
  EXPECT_EQ(banner.rfind("SSH-2.0-", 0), 0u) << banner;

  // A closed port: reset.
  send_frame(build_frame(to_guest(packet::kProtocolTcp, 80)));
  reply = next_frame();
  ASSERT_TRUE(reply.has_value());
  expect_answer(*reply, packet::kProtocolTcp);
  EXPECT_EQ(packet::parse_frame(*reply).ip.tcp_flags, 0x14) << "RST-ACK";

  // UDP: echoed, ports swapped.
  auto udp = to_guest(packet::kProtocolUdp, 53);
  udp.payload = {1, 2, 3, 4};
  send_frame(build_frame(udp));
  reply = next_frame();
  ASSERT_TRUE(reply.has_value());
  expect_answer(*reply, packet::kProtocolUdp);
  parsed = packet::parse_frame(*reply);
  EXPECT_EQ(parsed.ip.source_port, 53);
  EXPECT_EQ(parsed.ip.destination_port, 40000);

  // A ping for another address gets no answer: the next frame is the reply to the one after it.
  auto elsewhere = to_guest(packet::kProtocolIcmp, 0);
  elsewhere.destination = ipv4_address(10, 0, 3, 5);
  elsewhere.source_port = 0x1111;
  send_frame(build_frame(elsewhere));
  ping_spec.source_port = 0x2222;
  send_frame(build_frame(ping_spec));
  reply = next_frame();
  ASSERT_TRUE(reply.has_value());
  expect_answer(*reply, packet::kProtocolIcmp);
  EXPECT_EQ(packet::parse_frame(*reply).ip.source_port, 0x2222);
}

// Write-protected text (--write-protect-text): the guest's write to its own
// code is dropped (it reads back what was there), reported as a JSON line
// on the alert descriptor and once on stderr, and the guest goes on serving.
// Without the flag the same write lands.
class ResponderText : public ResponderGuest {
 protected:
  void SetUp() override {}
  std::string smash() {
    auto udp = to_guest(packet::kProtocolUdp, 99);
    send_frame(build_frame(udp));
    EXPECT_TRUE(vm_->wait_for_output("responder: text write ", 30s)) << vm_->output() << vm_->errors();
    const size_t at = vm_->output().find("responder: text write ");
    EXPECT_TRUE(vm_->wait_for_output_after(at, "\n", 30s));
    return vm_->output().substr(at, vm_->output().find('\n', at) - at);
  }
};

TEST_F(ResponderText, AWriteToProtectedTextIsDroppedAndReported) {
  int alerts[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, alerts), 0);
  start_guest({"--write-protect-text", "--alert-fd", "4"}, "smash_port=99", {alerts[1]});
  ::close(alerts[1]);
  EXPECT_EQ(smash(), "responder: text write held");
  pollfd ready{alerts[0], POLLIN, 0};
  ASSERT_EQ(::poll(&ready, 1, 30000), 1);
  char line[1024] = {};
  ASSERT_GT(::read(alerts[0], line, sizeof line - 1), 0);
  const std::string alert(line);
  EXPECT_EQ(alert.rfind(R"({"alert":"kernel_text_write","vcpu":0,"guest_address":"0x10)", 0), 0u) << alert;
  EXPECT_NE(alert.find(R"("length":1,"count":1})"), std::string::npos) << alert;
  EXPECT_NE(vm_->errors().find("wrote 1 bytes to the write-protected kernel text at 0x10"), std::string::npos)
      << vm_->errors();
  // It goes on serving (the protected page still runs: ping is answered by code on it).
  auto ping = to_guest(packet::kProtocolIcmp, 0);
  ping.source_port = 0x77;
  send_frame(build_frame(ping));
  const auto reply = next_frame();
  ASSERT_TRUE(reply.has_value()) << vm_->errors();
  expect_answer(*reply, packet::kProtocolIcmp);
  ::close(alerts[0]);
}

TEST_F(ResponderText, WithoutProtectionTheWriteLands) {
  start_guest({}, "smash_port=99");
  EXPECT_EQ(smash(), "responder: text write landed");
}

TEST(WriteProtectText, ABadAlertDescriptorIsOneClearLine) {
  VMHIVE_REQUIRE_KVM();
  auto result = run_vmhive({"run", "--kernel", guest_path("responder"), "--mem", "16M", "--write-protect-text",
                            "--alert-fd", "77"},
                           30s);
  EXPECT_EQ(result.status, 1) << describe(result);
  EXPECT_EQ(lines_of(result.errors).size(), 1u) << result.errors;
  EXPECT_NE(result.errors.find("--alert-fd 77: not an open descriptor"), std::string::npos) << result.errors;
}

}  // namespace
}  // namespace vmhive::testing
