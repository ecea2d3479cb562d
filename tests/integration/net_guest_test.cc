// virtio-net on real taps: two `net` test guests, each on a tap attached to
// one bridge inside a network namespace of the test's own, exchange frames
// (so nothing touches the host's network); the same guests on the two ends
// of a socketpair (--net fd=N: no tap, no root); bad --net options and a tap
// that cannot be opened are one clear error line.
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "temp_dir.h"
#include "vm_process.h"

namespace vmhive::testing {
namespace {

using namespace std::chrono_literals;

bool shell(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()) == 0; }

class NetGuest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0 || !shell("command -v ip")) {
      std::fprintf(stderr, "\n*** SKIPPED: network tests need root and iproute2 ***\n\n");
      GTEST_SKIP() << "needs root and ip";
    }
    netns_ = "vmhive-test-" + std::to_string(::getpid());
    ASSERT_TRUE(shell("ip netns add " + netns_));
    ASSERT_TRUE(shell(in_netns("ip link add br0 type bridge") + " && " + in_netns("ip link set br0 up")));
    for (const char* tap : {"tapa", "tapb"}) {
      ASSERT_TRUE(shell(in_netns(std::string("ip tuntap add dev ") + tap + " mode tap vnet_hdr") + " && " +
                        in_netns(std::string("ip link set ") + tap + " master br0 up")));
    }
  }
  void TearDown() override {
    if (!netns_.empty()) shell("ip netns del " + netns_);
  }
  std::string in_netns(const std::string& command) const { return "ip netns exec " + netns_ + " " + command; }
  VmProcess start_net_guest(const std::string& tap, const std::string& cmdline) {
    return VmProcess::start({"run", "--kernel", guest_path("net"), "--net", "tap=" + tap, "--cmdline", cmdline},
                            netns_);
  }
  // Frames reach a tap through the bridge, and leave it, only while the tap's bridge port
  // forwards. The port follows the tap's carrier, which the kernel turns on when a process opens
  // the tap and off when the last one closes it, but it moves the port later, in its link-watch
  // work (up to a second later for a lost carrier). Until then frames are dropped, and the net
  // guests never resend, so a sender may start only once both ports forward.
  enum PortState { kDisabled = 0, kForwarding = 3 };  // linux/if_bridge.h BR_STATE_*
  // "carrier <0|1> state <n>" for `tap`.
  std::string port_state(const std::string& tap) {
    const std::string dir = "/sys/class/net/" + tap;
    FILE* pipe = ::popen(in_netns("cat " + dir + "/carrier " + dir + "/brport/state").c_str(), "r");
    if (pipe == nullptr) return "unreadable";
    int carrier = -1, state = -1;
    const bool read = std::fscanf(pipe, "%d %d", &carrier, &state) == 2;
    ::pclose(pipe);
    return read ? "carrier " + std::to_string(carrier) + " state " + std::to_string(state) : "unreadable";
  }
  // Waits until `tap` is open and its port forwards (kForwarding), or is closed and its port is
  // disabled (kDisabled).
  ::testing::AssertionResult wait_for_port(const std::string& tap, PortState wanted) {
    const std::string expected =
        std::string("carrier ") + (wanted == kForwarding ? "1" : "0") + " state " + std::to_string(wanted);
    std::string seen;
    for (auto deadline = std::chrono::steady_clock::now() + 30s; std::chrono::steady_clock::now() < deadline;) {
      seen = port_state(tap);
      if (seen == expected) return ::testing::AssertionSuccess();
      std::this_thread::sleep_for(10ms);  // between looks: the kernel changes the state in its own time
    }
    return ::testing::AssertionFailure() << tap << " never showed " << expected << " (last: " << seen << ")";
  }
  // A sender on tapb that sends `count` frames once it has a byte of input (guests/net.c).
  VmProcess start_sender(unsigned count) {
    return start_net_guest("tapb", "role=sender start=input count=" + std::to_string(count));
  }
  // Lets it send once its guest waits for the byte and its own port forwards.
  ::testing::AssertionResult let_sender_go(VmProcess& sender) {
    if (!sender.wait_for_output("net: send on input", 30s))
      return ::testing::AssertionFailure() << "the sender did not start: " << sender.output() << sender.errors();
    if (auto forwarding = wait_for_port("tapb", kForwarding); !forwarding) return forwarding;
    sender.write_input("g");
    return ::testing::AssertionSuccess();
  }

  uint64_t counter(const std::string& device, const std::string& name) {
    FILE* pipe = ::popen(in_netns("cat /sys/class/net/" + device + "/statistics/" + name).c_str(), "r");
    if (pipe == nullptr) return 0;
    unsigned long long value = 0;
    if (std::fscanf(pipe, "%llu", &value) != 1) value = 0;
    ::pclose(pipe);
    return value;
  }

  std::string netns_;
};

TEST_F(NetGuest, TwoGuestsExchangeFramesOverABridge) {
  VMHIVE_REQUIRE_KVM();
  VmProcess receiver = start_net_guest("tapa", "role=receiver count=200");
  ASSERT_TRUE(receiver.wait_for_output("net: ready", 30s)) << receiver.output() << receiver.errors();
  ASSERT_TRUE(wait_for_port("tapa", kForwarding));
  VmProcess sender = start_sender(200);
  ASSERT_TRUE(let_sender_go(sender));
  EXPECT_EQ(sender.wait(60s), 0) << sender.output() << sender.errors();
  EXPECT_NE(sender.output().find("net: sent 200 frames"), std::string::npos) << sender.output();
  EXPECT_EQ(receiver.wait(60s), 0) << receiver.output() << receiver.errors();
  EXPECT_NE(receiver.output().find("net: received 200 frames"), std::string::npos) << receiver.output();
  // The host saw them: frames the guest sends arrive on its tap.
  EXPECT_GE(counter("tapb", "rx_packets"), 200u);
}

// A receiver snapshotted with its receive buffers posted, restored on a tap:
// the restored device fills the buffers the guest posted before the snapshot.
TEST_F(NetGuest, ARestoredReceiverGetsFramesOnItsNewTap) {
  VMHIVE_REQUIRE_KVM();
  TempDir temp;
  const std::string control = temp.file("control.sock");
  const std::string snapshot = temp.file("snapshot");
  VmProcess receiver = VmProcess::start({"run", "--kernel", guest_path("net"), "--net", "tap=tapa", "--control",
                                         control, "--cmdline", "role=receiver count=200"},
                                        netns_);
  ASSERT_TRUE(receiver.wait_for_output("net: ready", 30s)) << receiver.output() << receiver.errors();
  auto taken = run_vmhive({"snapshot", "--control", control, "--stop", snapshot}, 60s);
  ASSERT_EQ(taken.status, 0) << describe(taken);
  EXPECT_EQ(receiver.wait(30s), 0) << receiver.errors();
  // The port may go on forwarding to tapa, with nobody reading it, until the kernel has seen the
  // receiver go: only after that does "forwarding" below mean the restored VM's tap.
  ASSERT_TRUE(wait_for_port("tapa", kDisabled));

  // Without a tap for its virtio-net device the snapshot cannot run.
  auto no_tap = run_vmhive({"restore", snapshot}, 30s);
  EXPECT_EQ(no_tap.status, 1) << describe(no_tap);
  EXPECT_EQ(lines_of(no_tap.errors).size(), 1u) << no_tap.errors;
  EXPECT_NE(no_tap.errors.find("give as many taps"), std::string::npos) << no_tap.errors;

  VmProcess restored = VmProcess::start({"restore", snapshot, "--net", "tap=tapa"}, netns_);
  // Frames that reach tapa once the restored VM has opened it wait in the tap until the restored
  // device serves them, however far the restore has got; frames sent before then are lost.
  ASSERT_TRUE(wait_for_port("tapa", kForwarding));
  VmProcess sender = start_sender(200);
  ASSERT_TRUE(let_sender_go(sender));
  EXPECT_EQ(sender.wait(60s), 0) << sender.output() << sender.errors();
  EXPECT_EQ(restored.wait(60s), 0) << restored.output() << restored.errors() << "\ntapa delivered "
                                   << counter("tapa", "tx_packets") << " frames";
  EXPECT_NE(restored.output().find("net: received 200 frames"), std::string::npos) << restored.output();
  EXPECT_EQ(restored.output().find("net: ready"), std::string::npos) << "the guest started again";
}

TEST_F(NetGuest, ATapInUseIsOneClearLine) {
  VMHIVE_REQUIRE_KVM();
  VmProcess holder = start_net_guest("tapa", "role=receiver count=1");
  ASSERT_TRUE(holder.wait_for_output("net: ready", 30s)) << holder.output() << holder.errors();
  VmProcess second = start_net_guest("tapa", "role=receiver count=1");
  EXPECT_EQ(second.wait(30s), 1) << second.errors();
  EXPECT_NE(second.errors().find("--net tap=tapa"), std::string::npos) << second.errors();
  EXPECT_EQ(lines_of(second.errors()).size(), 1u) << second.errors();
  EXPECT_EQ(second.output(), "");
}

// The wire is a socketpair the test hands each VM as its descriptor 3. Eight
// frames: a Unix datagram socket holds 10 before a send would be refused
// (net.unix.max_dgram_qlen), so none can be lost even if the receiver lags.
class NetOverASocket : public ::testing::Test {
 protected:
  void SetUp() override {
    int ends[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends), 0);
    receiver_end_ = ends[0];
    sender_end_ = ends[1];
  }
  void TearDown() override {
    if (receiver_end_ >= 0) ::close(receiver_end_);
    if (sender_end_ >= 0) ::close(sender_end_);
  }
  VmProcess start_sender() {
    VmProcess sender = VmProcess::start_with_fds(
        {"run", "--kernel", guest_path("net"), "--net", "fd=3", "--cmdline", "role=sender count=8"}, {sender_end_});
    ::close(sender_end_);  // the VM holds it now
    sender_end_ = -1;
    return sender;
  }

  int receiver_end_ = -1;
  int sender_end_ = -1;
};

TEST_F(NetOverASocket, TwoGuestsExchangeFramesWithoutATap) {
  VMHIVE_REQUIRE_KVM();
  VmProcess receiver = VmProcess::start_with_fds(
      {"run", "--kernel", guest_path("net"), "--net", "fd=3", "--cmdline", "role=receiver count=8"}, {receiver_end_});
  ASSERT_TRUE(receiver.wait_for_output("net: ready", 30s)) << receiver.output() << receiver.errors();
  VmProcess sender = start_sender();
  EXPECT_EQ(sender.wait(60s), 0) << sender.output() << sender.errors();
  EXPECT_NE(sender.output().find("net: sent 8 frames"), std::string::npos) << sender.output();
  EXPECT_EQ(receiver.wait(60s), 0) << receiver.output() << receiver.errors();
  EXPECT_NE(receiver.output().find("net: received 8 frames"), std::string::npos) << receiver.output();
}

// A snapshot of a receiver restored on a socket: how a honeyfarm's clones
// get their links.
TEST_F(NetOverASocket, ARestoredReceiverGetsFramesOnItsSocket) {
  VMHIVE_REQUIRE_KVM();
  TempDir temp;
  const std::string control = temp.file("control.sock");
  const std::string snapshot = temp.file("snapshot");
  int first[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, first), 0);
  VmProcess original = VmProcess::start_with_fds({"run", "--kernel", guest_path("net"), "--net", "fd=3", "--control",
                                                  control, "--cmdline", "role=receiver count=8"},
                                                 {first[0]});
  ::close(first[0]);
  ::close(first[1]);
  ASSERT_TRUE(original.wait_for_output("net: ready", 30s)) << original.output() << original.errors();
  auto taken = run_vmhive({"snapshot", "--control", control, "--stop", snapshot}, 60s);
  ASSERT_EQ(taken.status, 0) << describe(taken);
  EXPECT_EQ(original.wait(30s), 0) << original.errors();

  VmProcess restored = VmProcess::start_with_fds({"restore", snapshot, "--net", "fd=3"}, {receiver_end_});
  VmProcess sender = start_sender();
  EXPECT_EQ(sender.wait(60s), 0) << sender.output() << sender.errors();
  EXPECT_EQ(restored.wait(60s), 0) << restored.output() << restored.errors();
  EXPECT_NE(restored.output().find("net: received 8 frames"), std::string::npos) << restored.output();
  EXPECT_EQ(restored.output().find("net: ready"), std::string::npos) << "the guest started again";
}

TEST(NetOptions, BadOptionsAreOneClearLine) {
  struct Case {
    std::string net;
    std::string expected;
  };
  for (const Case& c : std::vector<Case>{{"", "give tap=NAME"},
                                        {"mac=52:54:00:12:34:56", "tap=NAME or fd=N is required"},
                                        {"tap=", "interface name"},
                                        {"tap=averyveryverylongname", "interface name"},
                                        {"tap=t0,mac=zz:54:00:12:34:56", "six hex bytes"},
                                        {"tap=t0,mac=53:54:00:12:34:56", "multicast"},
                                        {"tap=t0,speed=10", "unknown setting 'speed=10'"},
                                        {"tap=t0,tap=t1", "twice"},
                                        {"fd=", "descriptor number"},
                                        {"fd=x3", "descriptor number"},
                                        {"fd=2", "from 3 to"},
                                        {"fd=99999999999", "descriptor number"},
                                        {"fd=3,fd=4", "twice"},
                                        {"tap=t0,fd=3", "not both"},
                                        // a descriptor the process was not handed
                                        {"fd=57", "socket fd 57: not an open descriptor"}}) {
    auto result = run_vmhive({"run", "--kernel", guest_path("net"), "--net", c.net}, 30s);
    EXPECT_EQ(result.status, 1) << c.net << "\n" << describe(result);
    auto lines = lines_of(result.errors);
    ASSERT_EQ(lines.size(), 1u) << describe(result);
    EXPECT_NE(lines[0].find(c.expected), std::string::npos) << lines[0];
  }
}

}  // namespace
}  // namespace vmhive::testing
