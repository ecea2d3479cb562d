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
#include <thread>
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
    // The whole line: a snapshot taken while the guest still prints it would have every clone
    // print the rest of it first.
    ASSERT_TRUE(guest.wait_for_output_after(guest.output().find("responder: ready"), "\n", 30s)) << guest.output();
    auto taken = run_vmhive({"snapshot", "--control", control, "--stop", dir}, 60s);
    ::close(ends[0]);
    ASSERT_EQ(taken.status, 0) << describe(taken);
    EXPECT_EQ(guest.wait(30s), 0) << guest.errors();
  }

  // `extra`: farm members, each followed by ", "; `profile_extra`: profile members, each after ", ".
  void start_farm(const std::string& extra, const std::string& snapshot = {},
                  const std::string& profile_extra = R"(, "ports": [22, 80])") {
    const std::string config = temp_.file("farm.json");
    std::ofstream(config) << R"({"outside_tap": "farm0", "range": "10.0.0.0/24", )" << extra
                          << R"("profiles": [{"name": "responder", "snapshot": ")"
                          << (snapshot.empty() ? temp_.file("snapshot") : snapshot) << R"(", "address": "10.0.0.2", "mac": "02:00:00:00:00:aa",
                               "ready": 2, "idle_timeout_s": 2)" << profile_extra << "}]}";
    farm_ = std::make_unique<VmProcess>(VmProcess::start({"farm", config}, netns_));
    ASSERT_TRUE(farm_->wait_for_output("\"event\":\"ready\"", 60s)) << farm_->output() << farm_->errors();
    // The namespace's stack is the scanner: 10.9.0.1 on the farm's link, the range routed to it.
    ASSERT_TRUE(shell(in_netns("ip link set farm0 up")));
    ASSERT_TRUE(shell(in_netns("ip addr add 10.9.0.1/16 dev farm0")));
    ASSERT_TRUE(shell(in_netns("ip route add 10.0.0.0/24 dev farm0")));
  }

  bool ping(const std::string& address) { return shell(in_netns("ping -c 1 -W 10 " + address)); }

  // SIGTERM: the farm ends its clones and prints its counters ("stopped"), then exits 0.
  void stop_farm() {
    farm_->send_signal(SIGTERM);
    EXPECT_EQ(farm_->wait(60s), 0) << farm_->errors();
  }

  // The sniffer (kSniffer) stops at its marker address: not one SYN escaped by then.
  void expect_nothing_escaped(VmProcess& sniffer) {
    EXPECT_TRUE(ping("10.0.0.200"));  // the sniffer's marker
    ASSERT_EQ(sniffer.wait(60s), 0) << sniffer.output() << sniffer.errors();
    EXPECT_NE(sniffer.output().find("sniffer: escaped 0\n"), std::string::npos) << sniffer.output();
  }

  // A kept forensic snapshot restores and runs (its net needs a link: a socket pair's end).
  static void expect_restorable(const std::string& snapshot, const std::vector<std::string>& extra = {}) {
    int ends[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends), 0);
    std::vector<std::string> args{"restore", snapshot, "--net", "fd=3"};
    for (const std::string& arg : extra) args.push_back(arg);
    VmProcess kept = VmProcess::start_with_fds(args, {ends[1]});
    ::close(ends[1]);
    EXPECT_FALSE(kept.wait(1s).has_value()) << "the kept clone runs again: " << kept.errors();
    kept.send_signal(SIGTERM);
    EXPECT_EQ(kept.wait(30s), 128 + SIGTERM) << kept.errors();
    ::close(ends[0]);
  }

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

  stop_farm();
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
  stop_farm();
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

// Where the worm (the responder with worm=5, contacted at 10.0.0.9) sends its SYNs: the five
// farm addresses after its snapshot's own, and one beyond the farm.
constexpr const char* kWormTargets[] = {"10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6", "10.0.0.7", "192.0.2.1"};

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
  expect_nothing_escaped(sniffer);
  stop_farm();
  const std::string& events = farm_->output();
  // The worm's SYNs, each contained: the first at least (the breach pauses the guest for its
  // snapshot, perhaps before it sent the rest), at most the six, each once. Once breached, the
  // clone's replies to its own visitor are held back too: a breached clone sends nothing out.
  size_t probes = 0;
  for (const char* target : kWormTargets) {
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
  expect_restorable(snapshot);
}

// Receives the farm's alerts the two ways a user would: a Unix stream
// socket (argv[1]) and an HTTP webhook on 127.0.0.1:argv[2] (in the farm's
// namespace). Prints each alert with the wall-clock time it arrived, in ms.
constexpr char kAlertReceiver[] = R"(
import http.server, os, socket, sys, threading, time
def now_ms():
    return int(time.time() * 1000)
def unix_socket():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(sys.argv[1])
    s.listen(16)
    ready.set()
    while True:
        c, _ = s.accept()
        data = b""
        while not data.endswith(b"\n"):
            piece = c.recv(65536)
            if not piece:
                break
            data += piece
        say("socket %d %s" % (now_ms(), data.decode().strip()))
        c.close()
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        say("webhook %d %s" % (now_ms(), body.decode().strip()))
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args):
        pass
lock = threading.Lock()
def say(line):
    with lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
ready = threading.Event()
threading.Thread(target=unix_socket, daemon=True).start()
ready.wait()
server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[2])), Hook)
say("receiver: ready")
threading.Timer(120, lambda: os._exit(0)).start()
server.serve_forever()
)";

// The wall-clock time an event line says it happened ("time_ms":N).
long long event_time(const std::string& line) {
  const size_t at = line.find(R"("time_ms":)");
  return at == std::string::npos ? -1 : std::stoll(line.substr(at + 10));
}

// The lines of `text` that contain `part`.
std::vector<std::string> lines_with(const std::string& text, const std::string& part) {
  std::vector<std::string> found;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    if (line.find(part) != std::string::npos) found.push_back(line);
    start = end + 1;
  }
  return found;
}

class FarmAlerts : public Farm {
 protected:
  void start_receiver() {
    receiver_ = std::make_unique<VmProcess>(VmProcess::start_program(
        "/usr/bin/env", {"ip", "netns", "exec", netns_, "python3", "-c", std::string(kAlertReceiver), alert_socket(), "8099"}));
    ASSERT_TRUE(receiver_->wait_for_output("receiver: ready", 30s)) << receiver_->errors();
  }
  std::string alert_socket() const { return temp_.file("alerts.sock"); }
  std::string alert_members() const {
    return R"("alert_socket": ")" + alert_socket() + R"(", "alert_webhook": "http://127.0.0.1:8099/farm/alerts", )";
  }
  // Each breach the farm printed for `reason` (at least `count` of them) reached both
  // receivers, within 100 ms of the time it names.
  void expect_alerts_delivered(const std::string& reason, size_t count) {
    const std::string tag = R"("reason":")" + reason + "\"";
    const auto printed = lines_with(farm_->output(), tag);
    ASSERT_GE(printed.size(), count) << farm_->output();
    for (int waited_ms = 0; waited_ms < 30000; waited_ms += 100) {
      if (lines_with(receiver_->output(), tag).size() >= 2 * count) break;
      (void)receiver_->wait_for_output("\x01 (not printed: only waits)", 100ms);
    }
    for (const std::string& line : printed) {
      const long long seen = event_time(line);
      for (const std::string way : {"socket ", "webhook "}) {
        bool found = false;
        for (const std::string& got : lines_with(receiver_->output(), way)) {
          const size_t json = got.find('{');
          if (json == std::string::npos || got.substr(json) != line) continue;
          found = true;
          const long long arrived = std::stoll(got.substr(way.size()));
          EXPECT_LE(arrived - seen, 100) << way << "alert arrived " << arrived - seen << " ms after the breach: " << line;
        }
        EXPECT_TRUE(found) << way << "did not get " << line << "\n" << receiver_->output();
      }
    }
  }
  std::unique_ptr<VmProcess> receiver_;
};

// Reflection: what a worm starts is answered inside the farm. Each of its
// SYNs, to farm addresses and beyond (192.0.2.1), is taken by a clone of
// its own bound to that address; not one leaves the farm's link; the
// breach alert reaches a Unix socket and a webhook within 100 ms.
TEST_F(FarmAlerts, AWormIsReflectedIntoTheFarmAndItsAlertArrivesWithin100Ms) {
  const std::string worm = temp_.file("worm-snapshot");
  make_snapshot("ip=10.0.0.2 ports=22 worm=5", worm);
  start_receiver();
  start_farm(R"("budget": 50, "forensics_dir": ")" + temp_.file("forensics") + R"(", )" + alert_members(), worm,
             R"(, "ports": [22], "containment": "reflect")");
  VmProcess sniffer = VmProcess::start_program("/usr/bin/env", {"ip", "netns", "exec", netns_, "python3", "-c",
                                                                std::string(kSniffer)});
  ASSERT_TRUE(sniffer.wait_for_output("sniffer: ready", 30s)) << sniffer.errors();
  const std::string banner = output_of(in_netns(
      "python3 -c \"import socket; s = socket.create_connection(('10.0.0.9', 22), 10); print(s.recv(100))\""));
  EXPECT_NE(banner.find("SSH-2.0-"), std::string::npos) << banner << farm_->output();
  ASSERT_TRUE(farm_->wait_for_output(R"("event":"forensics")", 60s)) << farm_->output();
  ASSERT_TRUE(farm_->wait_for_output(R"("event":"reflected")", 60s)) << farm_->output();
  expect_nothing_escaped(sniffer);
  expect_alerts_delivered("outbound connection", 1);
  stop_farm();
  const std::string& events = farm_->output();
  // Every SYN it got out before its snapshot paused it was reflected, each to a clone bound to its
  // target (whose SYN-ACK came back to it: the stateless worm answers that too, reflected as well).
  size_t reflected = 0;
  for (const char* target : kWormTargets) {
    const size_t seen = count_of(events, std::string(R"("event":"reflected","address":"10.0.0.9","clone":1,"to":")") +
                                             target + R"(","protocol":6,"port":22,"to_clone":)");
    if (seen >= 1) {
      ++reflected;
      EXPECT_NE(events.find(std::string(R"("event":"bound","address":")") + target + R"(","clone":)"), std::string::npos)
          << target << "\n" << events;
    }
  }
  EXPECT_GE(reflected, 1u) << events;
  EXPECT_EQ(count_of(events, R"("reflected_from":1)"), reflected) << events;
  // Reflected, not dropped: what is contained is only what the breached clone still said to its
  // visitor (a breached clone sends nothing out).
  EXPECT_EQ(count_of(events, R"("event":"contained")"), count_of(events, R"("event":"contained","address":"10.0.0.9","clone":1,"to":"10.9.0.1")"))
      << events;
  EXPECT_NE(events.find(R"("alerts_undelivered":0)"), std::string::npos) << events;
}

// Malware calling home: the clone looks a name up, the farm's DNS sinkhole
// answers with its own address, and the connection the clone then opens
// there is reflected to a clone bound to the sinkhole's address, whose
// answer goes back to the caller. Neither the query nor the SYN leaves.
TEST_F(Farm, ACloneCallingHomeGetsTheSinkholeAndMeetsAClone) {
  const std::string caller = temp_.file("caller-snapshot");
  make_snapshot("ip=10.0.0.2 ports=22 lookup=c2.evil.example", caller);
  start_farm(R"("budget": 50, "dns_sinkhole": "10.0.0.250", )", caller, R"(, "ports": [22], "containment": "reflect")");
  const std::string banner = output_of(in_netns(
      "python3 -c \"import socket; s = socket.create_connection(('10.0.0.30', 22), 10); print(s.recv(100))\""));
  EXPECT_NE(banner.find("SSH-2.0-"), std::string::npos) << banner << farm_->output();
  ASSERT_TRUE(farm_->wait_for_output(R"("event":"bound","address":"10.0.0.250")", 60s)) << farm_->output();
  stop_farm();
  const std::string& events = farm_->output();
  EXPECT_NE(events.find(R"("event":"dns","address":"10.0.0.30","clone":1,"name":"c2.evil.example","type":1,"answer":"10.0.0.250"})"),
            std::string::npos)
      << events;
  EXPECT_NE(events.find(R"("event":"breach","address":"10.0.0.30","clone":1,"profile":"responder","reason":"outbound connection","to":"10.0.0.250","protocol":6,"port":22})"),
            std::string::npos)
      << events;
  EXPECT_NE(events.find(R"("event":"reflected","address":"10.0.0.30","clone":1,"to":"10.0.0.250")"), std::string::npos)
      << events;
  EXPECT_NE(events.find(R"("reflected_from":1)"), std::string::npos) << events;
  EXPECT_NE(events.find(R"("dns_answers":1)"), std::string::npos) << events;
  EXPECT_NE(events.find(R"("forwarded_out":)"), std::string::npos);
}

// Breaches that are not outbound connections: a port the profile does not
// serve answering (something in the guest started listening), and a clone
// whose guest went down (a datagram to its crash port resets it). Each is
// an alert on the socket and the webhook within 100 ms; the farm runs on.
TEST_F(FarmAlerts, ANewListeningPortAndACrashAreAlerts) {
  const std::string crashy = temp_.file("crashy-snapshot");
  make_snapshot("ip=10.0.0.2 ports=22,80 crash_port=666", crashy);
  start_receiver();
  start_farm(R"("budget": 50, )" + alert_members(), crashy, R"(, "ports": [22])");
  // Port 80 answers, though the profile serves 22 only: the SYN-ACK is held back, an alert raised.
  const std::string refused = output_of(in_netns(
      "python3 -c \"import socket\ntry:\n socket.create_connection(('10.0.0.20', 80), 3)\nexcept OSError as e:\n"
      " print('not connected', e)\""));
  EXPECT_NE(refused.find("not connected"), std::string::npos) << refused << farm_->output();
  ASSERT_TRUE(farm_->wait_for_output(R"("reason":"new listening port")", 30s)) << farm_->output();
  // A datagram to the crash port: the guest resets and its clone ends.
  ASSERT_TRUE(shell(in_netns("python3 -c \"import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
                             ".sendto(b'x', ('10.0.0.21', 666))\"")));
  ASSERT_TRUE(farm_->wait_for_output(R"x("reason":"guest reset (a panic or a reboot)")x", 30s)) << farm_->output();
  EXPECT_TRUE(ping("10.0.0.21")) << "its address answers again from a new clone";
  EXPECT_TRUE(ping("10.0.0.22")) << "the farm runs on";
  expect_alerts_delivered("new listening port", 1);
  expect_alerts_delivered("guest reset (a panic or a reboot)", 1);
  stop_farm();
  const std::string& events = farm_->output();
  EXPECT_NE(events.find(R"("event":"breach","address":"10.0.0.20","clone":1,"profile":"responder","reason":"new listening port","to":"10.9.0.1","protocol":6)"),
            std::string::npos)
      << events;
  EXPECT_NE(events.find(R"("event":"breach","address":"10.0.0.21")"), std::string::npos) << events;
  EXPECT_NE(events.find(R"("exit_code":3,"signal":0)"), std::string::npos) << events;
}

// A write to the kernel's text: the profile's clones are restored with
// their text write-protected (the snapshot records where it is), the
// guest's write to its own code is dropped by its VMM and reported to the
// gateway: a breach alert within 100 ms, and the clone snapshotted for
// forensics, the snapshot restorable; the farm runs on.
TEST_F(FarmAlerts, AKernelTextWriteIsAnAlertAndTheCloneIsKeptForForensics) {
  const std::string target = temp_.file("target-snapshot");
  make_snapshot("ip=10.0.0.2 ports=22 smash_port=99", target);
  start_receiver();
  const std::string forensics = temp_.file("forensics");
  start_farm(R"("budget": 50, "forensics_dir": ")" + forensics + R"(", )" + alert_members(), target,
             R"(, "ports": [22], "write_protect_text": true)");
  ASSERT_TRUE(ping("10.0.0.50"));
  ASSERT_TRUE(shell(in_netns("python3 -c \"import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
                             ".sendto(b'x', ('10.0.0.50', 99))\"")));
  ASSERT_TRUE(farm_->wait_for_output(R"("event":"forensics")", 60s)) << farm_->output() << farm_->errors();
  EXPECT_NE(farm_->output().find(R"("ok":true)"), std::string::npos) << farm_->output();
  EXPECT_TRUE(ping("10.0.0.50")) << "its address answers again, from a new clone";
  EXPECT_TRUE(ping("10.0.0.51")) << "the farm runs on";
  expect_alerts_delivered("kernel text write", 1);
  stop_farm();
  const std::string& events = farm_->output();
  EXPECT_NE(events.find(R"("event":"breach","address":"10.0.0.50","clone":1,"profile":"responder","reason":"kernel text write","guest_address":"0x10)"),
            std::string::npos)
      << events;
  EXPECT_EQ(count_of(events, R"("reason":"kernel text write")"), 1u) << events;
  const size_t at = events.find(R"("event":"forensics")");
  const size_t start = events.find(R"("snapshot":")", at) + 12;
  const std::string snapshot = events.substr(start, events.find('"', start) - start);
  EXPECT_EQ(::access((snapshot + "/state").c_str(), R_OK), 0) << snapshot;
  expect_restorable(snapshot, {"--write-protect-text"});
}

// Floods and malformed frames from real tools leave the gateway serving:
// hping3 floods a clone's UDP echo (its replies held to the profile's rate
// limit), sends fragments and bad transport checksums, and raw frames
// (runts, lies about lengths, bad IP checksums, IPv6, VLAN tags) are
// refused and counted; then a ping still gets its answer.
TEST_F(Farm, FloodsAndMalformedFramesLeaveTheGatewayServing) {
  if (!shell("command -v hping3")) {
    std::fprintf(stderr, "\n*** SKIPPED: needs hping3 (scripts/setup.sh) ***\n\n");
    GTEST_SKIP() << "needs hping3";
  }
  start_farm(R"("budget": 50, )", {}, R"(, "ports": [22, 80], "rate_limit": {"packets_per_s": 200, "burst": 20})");
  ASSERT_TRUE(ping("10.0.0.40"));
  // hping3 exits 1 when nothing answers (fragments and bad checksums get no answer): what it sent is checked.
  const auto hping = [&](const std::string& arguments, const std::string& sent) {
    const std::string printed = output_of(in_netns("timeout 60 hping3 " + arguments));
    EXPECT_NE(printed.find(sent + " packets transmitted"), std::string::npos) << arguments << "\n" << printed;
  };
  // 3,000 datagrams to the echo port as fast as hping3 sends them (bounded: -c).
  hping("--udp -p 7 -d 32 -c 3000 --faster -k -s 40000 10.0.0.40", "3000");  // one flow (-k: its port kept)
  hping("--udp -p 7 -d 64 -c 20 -i u1000 -f 10.0.0.41", "20");  // fragments
  hping("-S -p 22 -c 20 -i u1000 -b 10.0.0.42", "20");          // bad TCP checksums
  hping("--udp -p 7 -c 20 -i u1000 -b 10.0.0.42", "20");        // bad UDP checksums
  const std::string raw = output_of(in_netns(R"(python3 -c "
import socket, struct
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(('farm0', 0))
eth = b'\x02\x76\x68\x00\x00\x01' + b'\x02\x00\x00\x00\x00\x09'
def ip(total, ihl=5, proto=17, checksum=None, dst=b'\x0a\x00\x00\x2b'):
    h = struct.pack('!BBHHHBBH4s4s', 0x40 | ihl, 0, total, 1, 0, 64, proto, 0, b'\x0a\x09\x00\x01', dst)
    c = 0
    for i in range(0, 20, 2):
        c += h[i] << 8 | h[i + 1]
    while c >> 16:
        c = (c & 0xffff) + (c >> 16)
    c = (~c & 0xffff) if checksum is None else checksum
    return h[:10] + struct.pack('!H', c) + h[12:]
frames = [eth + b'\x08\x00', eth + b'\x08\x00' + ip(20)[:5],
          eth + b'\x08\x00' + ip(1400) + b'\x00' * 8, eth + b'\x08\x00' + ip(28, ihl=15) + b'\x00' * 8,
          eth + b'\x08\x00' + ip(28, checksum=0x1234) + b'\x00' * 8, eth + b'\x08\x00' + ip(24, proto=6) + b'\x00' * 4,
          eth + b'\x86\xdd' + b'\x60' + b'\x00' * 60, eth + b'\x81\x00\x00\x01\x08\x00' + ip(28) + b'\x00' * 8,
          eth + b'\x08\x06' + b'\x00' * 10, eth + b'\x08\x06' + struct.pack('!HHBBH', 6, 0x0800, 6, 4, 1) + b'\x00' * 20]
for n in range(100):
    for f in frames:
        s.send(f)
print('sent', 100 * len(frames), 'frames')
")"));
  EXPECT_NE(raw.find("sent 1000 frames"), std::string::npos) << raw;
  EXPECT_TRUE(ping("10.0.0.43")) << farm_->output() << farm_->errors();
  stop_farm();
  const std::string& events = farm_->output();
  for (const char* refused : {"\"runt\":", "\"bad_ip_header\":", "\"bad_ip_checksum\":", "\"fragment\":",
                              "\"unknown_ethertype\":", "\"bad_transport_header\":", "\"bad_arp\":"})
    EXPECT_NE(events.find(refused), std::string::npos) << refused << "\n" << events;
  // The flood's echoes were held to about the rate limit: 200 a second after a burst of 20.
  const size_t at = events.find(R"("rate_limited":)");
  ASSERT_NE(at, std::string::npos) << events;
  EXPECT_GT(std::stoull(events.substr(at + 15)), 0u) << events;
  EXPECT_EQ(count_of(events, R"("event":"breach")"), 0u) << events;
}

// A worm reflected into a farm whose budget is one: binding its first target
// evicts the worm itself, in the middle of reading its frames; the gateway
// lets it go and runs on (and a held clone killed from outside is reported,
// not mistaken for a serving one).
TEST_F(Farm, AReflectionThatEvictsItsSenderLeavesTheGatewayServing) {
  const std::string worm = temp_.file("worm-snapshot");
  make_snapshot("ip=10.0.0.2 ports=22 worm=3", worm);
  start_farm(R"("budget": 1, )", worm, R"(, "ports": [22], "containment": "reflect")");
  (void)output_of(in_netns("python3 -c \"import socket\ntry:\n s = socket.create_connection(('10.0.0.101', 22), 5); s.recv(100)\n"
                           "except OSError:\n pass\""));
  ASSERT_TRUE(farm_->wait_for_output(R"("event":"evicted","address":"10.0.0.101")", 30s)) << farm_->output();
  // Every clone it has, held and serving, killed from outside: each reported (a held one as
  // clone_exited, a serving one as a breach), and replaced.
  ASSERT_TRUE(shell("pkill -9 -P " + std::to_string(farm_->pid())));
  // A held clone killed but not yet reaped may still be taken for the next address (its death
  // is then that clone's breach): the ping may need a second echo, answered by a fresh clone.
  EXPECT_TRUE(shell(in_netns("ping -c 3 -i 0.5 -W 10 10.0.0.102"))) << farm_->output() << farm_->errors();
  stop_farm();
  EXPECT_NE(farm_->output().find(R"("event":"stopped")"), std::string::npos) << farm_->output();
  EXPECT_NE(farm_->output().find(R"("signal":9})"), std::string::npos) << "the killed clones reported\n" << farm_->output();
}

// The clones of a farm that is killed outright (SIGKILL: no chance to end
// them) end with it, and so does a farm whose daemon is killed: nothing is
// left running that no one contains.
TEST_F(Farm, AKilledFarmTakesItsClonesWithIt) {
  start_farm(R"("budget": 50, )");
  ASSERT_TRUE(ping("10.0.0.5"));
  ASSERT_TRUE(ping("10.0.0.6"));
  // The farm runs under `ip netns exec`, which execs it: the process is the farm itself.
  std::vector<std::string> clones;
  const std::string children = output_of("pgrep -P " + std::to_string(farm_->pid()));
  for (size_t at = 0, end; (end = children.find('\n', at)) != std::string::npos; at = end + 1)
    clones.push_back(children.substr(at, end - at));
  ASSERT_GE(clones.size(), 4u) << "two live clones and two held: " << children;
  farm_->send_signal(SIGKILL);
  EXPECT_EQ(farm_->wait(30s), 128 + SIGKILL);
  const auto clones_running = [&] {
    for (const std::string& pid : clones)
      if (::access(("/proc/" + pid).c_str(), F_OK) == 0) return true;
    return false;
  };
  // Their parent-death signal is sent as the farm dies; they are reaped by whoever inherits them.
  bool gone = false;
  for (int tries = 0; tries < 300 && !gone; ++tries) {
    gone = !clones_running();
    if (!gone) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(gone) << "clones outlived their farm";
}

// Reads the farm's server-sent events from the dashboard's address
// (argv[1]) until it has seen a "bound" event for argv[2] and a "stats"
// event, then prints them and exits (bounded: 60 s).
constexpr char kEventReader[] = R"(
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
s.settimeout(60)
s.sendall(b"GET /farm/events HTTP/1.1\r\nHost: x\r\n\r\n")
data = b""
bound = stats = False
while not (bound and stats):
    piece = s.recv(65536)
    if not piece:
        break
    data += piece
    for line in data.split(b"\n"):
        if line.startswith(b"data: ") and b'"event":"bound","address":"' + sys.argv[2].encode() + b'"' in line:
            bound = True
        if line.startswith(b"data: ") and b'"event":"stats"' in line:
            stats = True
print("content-type text/event-stream" if b"text/event-stream" in data else "other content type")
print("bound %s stats %s" % (bound, stats), flush=True)
)";

// The farm as part of the daemon: vmhived --farm runs it and keeps what its
// events say; the dashboard's address serves the page, the farm's state,
// its event stream and a clone's console over HTTP; a real browser
// (headless Chromium) runs the page: its live clone table and its alert
// list show what happened. The screenshot is kept beside the test's files
// (and copied to $VMHIVE_DASHBOARD_SCREENSHOT when that is set).
TEST_F(Farm, TheDaemonRunsTheFarmAndItsDashboardShowsItInABrowser) {
  const std::string chromium = output_of("sh -c 'command -v chromium || command -v chromium-browser'");
  if (chromium.empty() || !shell("command -v curl") || !shell("command -v python3")) {
    std::fprintf(stderr, "\n*** SKIPPED: needs chromium and curl (scripts/setup.sh) ***\n\n");
    GTEST_SKIP() << "needs chromium and curl";
  }
  const std::string browser = chromium.substr(0, chromium.find('\n'));
  const std::string snapshot = temp_.file("visible-snapshot");
  make_snapshot("ip=10.0.0.2 ports=22,80 smash_port=99", snapshot);
  const std::string config = temp_.file("farm.json");
  std::ofstream(config) << R"({"outside_tap": "farm0", "range": "10.0.0.0/24", "budget": 50, "console_dir": ")"
                        << temp_.file("consoles") << R"(", "profiles": [{"name": "responder", "snapshot": ")" << snapshot
                        << R"(", "address": "10.0.0.2", "mac": "02:00:00:00:00:aa", "ports": [22], "ready": 2}]})";
  const std::string socket = temp_.file("vmhived.sock");
  farm_ = std::make_unique<VmProcess>(VmProcess::start_program(
      vmhived_binary(), {"--socket", socket, "--state-dir", temp_.file("state"), "--farm", config, "--dashboard",
                         "127.0.0.1:8088"},
      netns_));
  const auto farm_state = [&] {
    return output_of(in_netns("curl -s --max-time 10 http://127.0.0.1:8088/farm"));
  };
  // The farm is ready when the daemon's view of it says so.
  std::string state;
  for (int tries = 0; tries < 600 && state.find(R"("state":"running")") == std::string::npos; ++tries) {
    state = farm_state();
    if (state.find(R"("state":"running")") == std::string::npos)
      (void)farm_->wait_for_output("\x01 (not printed: waits a little)", 100ms);
  }
  ASSERT_NE(state.find(R"("state":"running")"), std::string::npos) << state << farm_->errors();
  ASSERT_TRUE(shell(in_netns("ip link set farm0 up")));
  ASSERT_TRUE(shell(in_netns("ip addr add 10.9.0.1/16 dev farm0")));
  ASSERT_TRUE(shell(in_netns("ip route add 10.0.0.0/24 dev farm0")));
  for (const char* address : {"10.0.0.5", "10.0.0.6", "10.0.0.7"}) ASSERT_TRUE(ping(address)) << address;
  // Something for its console, and a breach for the alert list: port 80 answers, the profile serves 22.
  ASSERT_TRUE(shell(in_netns("python3 -c \"import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
                             ".sendto(b'x', ('10.0.0.5', 99))\"")));
  (void)output_of(in_netns("python3 -c \"import socket\ntry:\n socket.create_connection(('10.0.0.8', 80), 2)\n"
                           "except OSError:\n pass\""));
  // The farm's state: the three addresses bound, the breach kept.
  for (int tries = 0; tries < 600; ++tries) {
    state = farm_state();
    if (state.find(R"("reason":"new listening port")") != std::string::npos && state.find(R"("outside_frames")") != std::string::npos)
      break;
    (void)farm_->wait_for_output("\x01 (not printed: waits a little)", 100ms);
  }
  for (const char* address : {"10.0.0.5", "10.0.0.6", "10.0.0.7"})
    EXPECT_NE(state.find(std::string(R"({"address":")") + address + R"(","clone":)"), std::string::npos) << state;
  EXPECT_NE(state.find(R"("reason":"new listening port")"), std::string::npos) << state;
  EXPECT_NE(state.find(R"("profiles":[{"name":"responder","ports":[22],"containment":"replies"}])"), std::string::npos)
      << state;
  // The same over the daemon's own socket; the dashboard's address refuses everything else.
  EXPECT_NE(output_of("curl -s --max-time 10 --unix-socket " + socket + " http://x/farm").find(R"("state":"running")"),
            std::string::npos);
  EXPECT_NE(output_of(in_netns("curl -s --max-time 10 http://127.0.0.1:8088/vms")).find("serves only /dashboard"),
            std::string::npos);
  EXPECT_NE(output_of(in_netns("curl -s --max-time 10 -X POST http://127.0.0.1:8088/farm")).find("only read"),
            std::string::npos);
  // A clone's console, by its address.
  const std::string console = output_of(in_netns("curl -s --max-time 10 http://127.0.0.1:8088/farm/clones/10.0.0.5/console"));
  EXPECT_NE(console.find("responder: text write landed"), std::string::npos) << console;
  EXPECT_NE(output_of(in_netns("curl -s --max-time 10 http://127.0.0.1:8088/farm/clones/10.0.0.99/console"))
                .find("no clone is bound to 10.0.0.99"),
            std::string::npos);
  EXPECT_NE(output_of(in_netns("curl -s --max-time 10 'http://127.0.0.1:8088/farm/clones/..%2f..%2fetc/console'"))
                .find("not an IPv4 address"),
            std::string::npos);
  // The event stream: server-sent events, the bound addresses replayed, stats as they come.
  const std::string reader = temp_.file("event_reader.py");
  std::ofstream(reader) << kEventReader;
  const std::string stream = output_of(in_netns("python3 " + reader + " 8088 10.0.0.6"));
  EXPECT_NE(stream.find("content-type text/event-stream"), std::string::npos) << stream;
  EXPECT_NE(stream.find("bound True stats True"), std::string::npos) << stream;
  // A real browser runs the page (headless Chromium, driven through its DevTools protocol):
  // its table lists the clones and its alert list the breach; an address pinged while the
  // page is open appears in the table as it happens; a clone's console shows when its row is
  // clicked.
  const std::string screenshot = temp_.file("dashboard.png");
  VmProcess page = VmProcess::start_program(
      "/usr/bin/env", {"ip", "netns", "exec", netns_, "python3", std::string(VMHIVE_SOURCE_DIR) + "/tests/integration/dashboard_browser.py",
                       browser, "http://127.0.0.1:8088/dashboard", screenshot, "10.0.0.5"});
  ASSERT_TRUE(page.wait_for_output("page: ready\n", 60s)) << page.output() << page.errors();
  EXPECT_NE(page.output().find("page: state running\n"), std::string::npos) << page.output();
  for (const char* address : {"10.0.0.5", "10.0.0.6", "10.0.0.7"})
    EXPECT_NE(page.output().find(std::string("page: row ") + address + "\n"), std::string::npos) << page.output();
  EXPECT_NE(page.output().find("page: alert new listening port\n"), std::string::npos) << page.output();
  ASSERT_TRUE(ping("10.0.0.9"));
  page.write_input("10.0.0.9\n");
  EXPECT_TRUE(page.wait_for_output("page: saw 10.0.0.9\n", 60s)) << page.output() << page.errors();
  page.close_input();
  EXPECT_TRUE(page.wait_for_output("page: screenshot", 60s)) << page.output() << page.errors();
  EXPECT_NE(page.output().find("responder: text write landed"), std::string::npos) << page.output();
  EXPECT_EQ(page.wait(60s), 0) << page.errors();
  EXPECT_EQ(::access(screenshot.c_str(), R_OK), 0) << "no screenshot";
  if (const char* copy = std::getenv("VMHIVE_DASHBOARD_SCREENSHOT")) shell("cp " + screenshot + " " + std::string(copy));
  stop_farm();
  // The daemon's event log has the farm's life and its breach.
  const std::string log = output_of("cat " + temp_.file("state") + "/events.jsonl");
  for (const char* type : {"\"farm_started\"", "\"farm_ready\"", "\"farm_breach\"", "\"farm_stopped\""})
    EXPECT_NE(log.find(type), std::string::npos) << type << "\n" << log;
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
