// The honeyfarm end to end, inside a network namespace of the test's own
// (nothing reaches the host's interfaces): a snapshot of the responder guest
// is the profile, `vmhive farm` runs in the namespace with its outside tap,
// and the namespace's own stack is the scanner: real ping, a real TCP
// connection, real nmap. Every address answers from a clone of its own, the
// same address keeps its clone, idle clones are reclaimed and the budget
// evicts the least recently active.
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "temp_dir.h"
#include "vm_process.h"

namespace vmhive::testing {
namespace {

using namespace std::chrono_literals;

bool shell(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()) == 0; }

// What a command prints (stdout), run with a time limit.
std::string output_of(const std::string& command) {
  std::string text;
  FILE* pipe = ::popen(("timeout 60 " + command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return text;
  char buffer[4096];
  size_t count;
  while ((count = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) text.append(buffer, count);
  ::pclose(pipe);
  return text;
}

size_t count_of(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

class Farm : public ::testing::Test {
 protected:
  void SetUp() override {
    VMHIVE_REQUIRE_KVM();
    if (::geteuid() != 0 || !shell("command -v ip") || !shell("command -v ping") || !shell("command -v nmap")) {
      std::fprintf(stderr, "\n*** SKIPPED: farm tests need root, iproute2, ping and nmap (scripts/setup.sh) ***\n\n");
      GTEST_SKIP() << "needs root, ip, ping and nmap";
    }
    netns_ = "vmhfarm" + std::to_string(::getpid());
    ASSERT_TRUE(shell("ip netns add " + netns_));
    ASSERT_TRUE(shell(in_netns("ip link set lo up")));
    make_snapshot("ip=10.0.0.2 ports=22,80", temp_.file("snapshot"));
  }
  void TearDown() override {
    farm_.reset();  // kills the farm (and so its clones) if a test left it running
    if (!netns_.empty()) shell("ip netns del " + netns_);
  }

  std::string in_netns(const std::string& command) const { return "ip netns exec " + netns_ + " " + command; }

  // The responder guest at 10.0.0.2 (`cmdline`: its ports, a worm), snapshotted
  // at its loop: every clone of it starts there.
  void make_snapshot(const std::string& cmdline, const std::string& dir) {
    int ends[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends), 0);
    const std::string control = temp_.file("control.sock");
    VmProcess guest = VmProcess::start_with_fds(
        {"run", "--kernel", guest_path("responder"), "--mem", "16M", "--net", "fd=3,mac=02:00:00:00:00:aa", "--control",
         control, "--cmdline", cmdline},
        {ends[1]});
    ::close(ends[1]);
    ASSERT_TRUE(guest.wait_for_output("responder: ready", 30s)) << guest.output() << guest.errors();
    auto taken = run_vmhive({"snapshot", "--control", control, "--stop", dir}, 60s);
    ::close(ends[0]);
    ASSERT_EQ(taken.status, 0) << describe(taken);
    EXPECT_EQ(guest.wait(30s), 0) << guest.errors();
  }

  void start_farm(const std::string& extra, const std::string& snapshot = {}) {
    const std::string config = temp_.file("farm.json");
    std::ofstream(config) << R"({"outside_tap": "farm0", "range": "10.0.0.0/24", )" << extra
                          << R"("profiles": [{"name": "responder", "snapshot": ")"
                          << (snapshot.empty() ? temp_.file("snapshot") : snapshot) << R"(", "address": "10.0.0.2", "mac": "02:00:00:00:00:aa", "ports": [22, 80],
                               "ready": 2, "idle_timeout_s": 2}]})";
    farm_ = std::make_unique<VmProcess>(VmProcess::start({"farm", config}, netns_));
    ASSERT_TRUE(farm_->wait_for_output("\"event\":\"ready\"", 60s)) << farm_->output() << farm_->errors();
    // The namespace's stack is the scanner: 10.9.0.1 on the farm's link, the range routed to it.
    ASSERT_TRUE(shell(in_netns("ip link set farm0 up")));
    ASSERT_TRUE(shell(in_netns("ip addr add 10.9.0.1/16 dev farm0")));
    ASSERT_TRUE(shell(in_netns("ip route add 10.0.0.0/24 dev farm0")));
  }

  bool ping(const std::string& address) { return shell(in_netns("ping -c 1 -W 10 " + address)); }

  TempDir temp_;
  std::string netns_;
  std::unique_ptr<VmProcess> farm_;
};

TEST_F(Farm, EveryAddressAnswersFromAClonesOwnAndKeepsIt) {
  start_farm(R"("budget": 50, )");
  ASSERT_TRUE(ping("10.0.0.5")) << farm_->output() << farm_->errors();
  ASSERT_TRUE(ping("10.0.0.6")) << farm_->output() << farm_->errors();
  ASSERT_TRUE(ping("10.0.0.5"));
  const std::string banner = output_of(in_netns(
      "python3 -c \"import socket; s = socket.create_connection(('10.0.0.7', 22), 10); print(s.recv(100))\""));
  EXPECT_NE(banner.find("SSH-2.0-"), std::string::npos) << banner << farm_->output();
  // A port the profile does not serve: refused, as a real host would.
  const std::string closed = output_of(in_netns(
      "python3 -c \"import socket\ntry:\n socket.create_connection(('10.0.0.8', 443), 10)\nexcept ConnectionRefusedError:\n"
      " print('refused')\""));
  EXPECT_NE(closed.find("refused"), std::string::npos) << closed;
  // nmap's TCP connect scan of eight addresses: each one's open ports found.
  const std::string scan = output_of(in_netns("nmap -n -Pn -sT -p 22,80,443 --max-retries 2 10.0.0.16-23"));
  EXPECT_EQ(count_of(scan, "22/tcp  open"), 8u) << scan;
  EXPECT_EQ(count_of(scan, "80/tcp  open"), 8u) << scan;
  EXPECT_EQ(count_of(scan, "443/tcp closed"), 8u) << scan;

  farm_->send_signal(SIGTERM);
  EXPECT_EQ(farm_->wait(60s), 0) << farm_->errors();
  const std::string& events = farm_->output();
  EXPECT_EQ(count_of(events, R"("event":"bound","address":"10.0.0.5")"), 1u) << "the same address kept its clone\n"
                                                                             << events;
  EXPECT_EQ(count_of(events, R"("event":"bound")"), 12u) << events;
  EXPECT_NE(events.find(R"("event":"stopped")"), std::string::npos) << events;
  EXPECT_EQ(count_of(events, R"("event":"contained")"), 0u) << "the responder only answers: " << events;
}

TEST_F(Farm, IdleClonesAreReclaimedAndTheBudgetEvicts) {
  start_farm(R"("budget": 2, )");
  ASSERT_TRUE(ping("10.0.0.5"));
  ASSERT_TRUE(ping("10.0.0.6"));
  ASSERT_TRUE(ping("10.0.0.7"));  // a third address past a budget of two: 10.0.0.5 goes
  ASSERT_TRUE(farm_->wait_for_output(R"("event":"evicted","address":"10.0.0.5")", 30s)) << farm_->output();
  // Idle for the profile's 2 s: reclaimed; the address answers again from a new clone.
  ASSERT_TRUE(farm_->wait_for_output(R"("event":"reclaimed","address":"10.0.0.7")", 30s)) << farm_->output();
  ASSERT_TRUE(ping("10.0.0.7"));
  farm_->send_signal(SIGTERM);
  EXPECT_EQ(farm_->wait(60s), 0) << farm_->errors();
  EXPECT_EQ(count_of(farm_->output(), R"("event":"bound","address":"10.0.0.7")"), 2u) << farm_->output();
}

// A sniffer on the farm's outside link, in the namespace: of the frames the
// farm writes onto the link, counts the TCP SYNs without ACK from the farm's
// range (no answer is one), until the namespace itself pings the marker
// address 10.0.0.200; then prints the count.
constexpr char kSniffer[] = R"(
import socket
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind(("farm0", 0))
s.settimeout(60)
print("sniffer: ready", flush=True)
escaped = 0
while True:
    frame, where = s.recvfrom(65536)
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        continue
    source, destination, protocol = frame[26:30], frame[30:34], frame[23]
    if where[2] == socket.PACKET_OUTGOING:
        if protocol == 1 and destination == bytes([10, 0, 0, 200]):
            break
        continue
    header = (frame[14] & 15) * 4
    if protocol == 6 and source[:3] == bytes([10, 0, 0]) and len(frame) >= 14 + header + 14:
        flags = frame[14 + header + 13]
        if flags & 0x02 and not flags & 0x10:
            escaped += 1
print("sniffer: escaped %d" % escaped, flush=True)
)";

// The worm: a clone that, once contacted, opens connections of its own to
// the farm's other addresses and beyond. Not one of its SYNs leaves the
// farm's link (a sniffer there counts them), each is a contained event, the
// first makes it a breach: it is snapshotted for forensics and stops, and
// its address answers again from a new clone.
TEST_F(Farm, AWormIsContainedNothingEscapesAndItIsKeptForForensics) {
  const std::string worm = temp_.file("worm-snapshot");
  make_snapshot("ip=10.0.0.2 ports=22 worm=5", worm);
  const std::string forensics = temp_.file("forensics");
  start_farm(R"("budget": 50, "forensics_dir": ")" + forensics + R"(", )", worm);
  VmProcess sniffer = VmProcess::start_program("/usr/bin/env", {"ip", "netns", "exec", netns_, "python3", "-c",
                                                                std::string(kSniffer)});
  ASSERT_TRUE(sniffer.wait_for_output("sniffer: ready", 30s)) << sniffer.errors();
  const std::string banner = output_of(in_netns(
      "python3 -c \"import socket; s = socket.create_connection(('10.0.0.9', 22), 10); print(s.recv(100))\""));
  EXPECT_NE(banner.find("SSH-2.0-"), std::string::npos) << banner << farm_->output();
  ASSERT_TRUE(farm_->wait_for_output(R"("event":"forensics")", 60s)) << farm_->output();
  EXPECT_NE(farm_->output().find(R"("ok":true)"), std::string::npos) << farm_->output();
  EXPECT_TRUE(ping("10.0.0.9")) << "the breached clone's address answers again, from a new clone";
  EXPECT_TRUE(ping("10.0.0.200"));  // the sniffer's marker
  ASSERT_EQ(sniffer.wait(60s), 0) << sniffer.output() << sniffer.errors();
  EXPECT_NE(sniffer.output().find("sniffer: escaped 0\n"), std::string::npos) << sniffer.output();
  farm_->send_signal(SIGTERM);
  EXPECT_EQ(farm_->wait(60s), 0) << farm_->errors();
  const std::string& events = farm_->output();
  // The worm's SYNs, each contained: the first at least (the breach pauses the guest for its
  // snapshot, perhaps before it sent the rest), at most the six, each once. Once breached, the
  // clone's replies to its own visitor are held back too: a breached clone sends nothing out.
  size_t probes = 0;
  for (const char* target : {"10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6", "10.0.0.7", "192.0.2.1"}) {
    const size_t seen = count_of(events, std::string(R"("event":"contained","address":"10.0.0.9","clone":1,"to":")") +
                                             target + R"(","protocol":6,"port":22})");
    EXPECT_LE(seen, 1u) << target << "\n" << events;
    probes += seen;
  }
  EXPECT_GE(probes, 1u) << events;
  EXPECT_NE(events.find(R"("event":"breach","address":"10.0.0.9","clone":1,"profile":"responder","reason":"outbound connection","to":"10.0.0.3")"),
            std::string::npos)
      << events;
  EXPECT_EQ(count_of(events, R"("event":"breach","address":"10.0.0.9")"), 1u) << events;
  EXPECT_EQ(count_of(events, R"("event":"bound","address":"10.0.0.9")"), 2u) << events;
  // The snapshot is whole (its state file is written last) and restorable: it needs a link for its net.
  const size_t at = events.find(R"("event":"forensics")");
  const size_t start = events.find(R"("snapshot":")", at) + 12;
  const std::string snapshot = events.substr(start, events.find('"', start) - start);
  EXPECT_EQ(snapshot.rfind(forensics + "/10.0.0.9-clone", 0), 0u) << snapshot;
  EXPECT_EQ(::access((snapshot + "/state").c_str(), R_OK), 0) << snapshot;
  int ends[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends), 0);
  VmProcess kept = VmProcess::start_with_fds({"restore", snapshot, "--net", "fd=3"}, {ends[1]});
  ::close(ends[1]);
  EXPECT_FALSE(kept.wait(1s).has_value()) << "the kept clone runs again: " << kept.errors();
  kept.send_signal(SIGTERM);
  EXPECT_EQ(kept.wait(30s), 128 + SIGTERM) << kept.errors();
  ::close(ends[0]);
}

TEST(FarmCommand, ABadConfigurationIsOneClearLine) {
  TempDir temp;
  const std::string config = temp.file("farm.json");
  std::ofstream(config) << R"({"outside_tap": "farm0", "range": "10.0.0.0/8", "profiles": [{"snapshot": "/s",
                               "address": "10.0.0.2", "mac": "02:00:00:00:00:aa"}]})";
  for (const auto& [path, expected] : std::vector<std::pair<std::string, std::string>>{
           {temp.file("missing.json"), "No such file"}, {config, "at most a /16"}}) {
    auto result = run_vmhive({"farm", path}, 30s);
    EXPECT_EQ(result.status, 1) << describe(result);
    EXPECT_EQ(lines_of(result.errors).size(), 1u) << result.errors;
    EXPECT_NE(result.errors.find(expected), std::string::npos) << result.errors;
  }
}

}  // namespace
}  // namespace vmhive::testing
