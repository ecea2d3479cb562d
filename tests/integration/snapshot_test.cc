// Snapshots, restores and clones of the `counter` test guest: it keeps a tick
// count and a `mark` in guest memory and prints them on request, so a test can
// tell a VM that continued from one that started again, and one clone's
// memory from another's.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <functional>
#include <thread>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "file_contents.h"
#include "temp_dir.h"
#include "../common/line_socket.h"
#include "vm_process.h"

namespace vmhive::testing {
namespace {

using namespace std::chrono_literals;

VmProcess start_counter(const std::string& control) {
  return VmProcess::start({"run", "--kernel", guest_path("counter"), "--control", control});
}

// The tick count in the last "tick=N" the guest printed.
uint64_t last_tick(const std::string& output) {
  const size_t at = output.rfind("tick=");
  return at == std::string::npos ? 0 : std::stoull(output.substr(at + 5));
}

// Sets the guest's mark and waits for its answer.
bool set_mark(VmProcess& vm, uint64_t mark) {
  vm.write_input("m" + std::to_string(mark) + "x");
  return vm.wait_for_output("counter: mark set to " + std::to_string(mark) + "\n", 30s);
}

// Asks for tick and mark; true once the answer shows `mark`.
bool print_shows_mark(VmProcess& vm, uint64_t mark) {
  vm.write_input("p");
  return vm.wait_for_output(" mark=" + std::to_string(mark) + "\n", 30s);
}

RunResult take_snapshot(const std::string& control, const std::string& dir, bool stop = false) {
  std::vector<std::string> args{"snapshot", "--control", control, dir};
  if (stop) args.push_back("--stop");
  return run_vmhive(args, 60s);
}

class Snapshot : public ::testing::Test {
 protected:
  void SetUp() override { VMHIVE_REQUIRE_KVM(); }
  // Boots the counter, marks its memory with 77 and snapshots it into snapshot_dir(); the
  // original keeps running.
  VmProcess boot_and_snapshot() {
    VmProcess vm = start_counter(control_);
    EXPECT_TRUE(vm.wait_for_output("counter: ready", 30s)) << vm.errors();
    EXPECT_TRUE(set_mark(vm, 77)) << vm.output();
    EXPECT_TRUE(print_shows_mark(vm, 77)) << vm.output();
    ticks_before_ = last_tick(vm.output());
    auto snapshot = take_snapshot(control_, snapshot_dir());
    EXPECT_EQ(snapshot.status, 0) << describe(snapshot);
    EXPECT_NE(snapshot.output.find("\"ok\":true"), std::string::npos) << snapshot.output;
    EXPECT_NE(snapshot.output.find("\"memory_bytes_written\":"), std::string::npos) << snapshot.output;
    return vm;
  }
  std::string snapshot_dir() const { return temp_.file("snapshot"); }

  TempDir temp_;
  std::string control_ = temp_.file("control.sock");
  uint64_t ticks_before_ = 0;
};

TEST_F(Snapshot, TheGuestContinuesWhereItStoppedAfterRestore) {
  VmProcess original = boot_and_snapshot();
  // The original runs on after its snapshot, and its later writes do not reach the snapshot.
  EXPECT_TRUE(set_mark(original, 78)) << original.output();
  original.write_input("q");
  EXPECT_EQ(original.wait(30s), 0) << original.errors();

  VmProcess restored = VmProcess::start({"restore", snapshot_dir()});
  ASSERT_TRUE(print_shows_mark(restored, 77)) << restored.output() << restored.errors();
  EXPECT_GE(last_tick(restored.output()), ticks_before_) << restored.output();
  EXPECT_EQ(restored.output().find("counter: ready"), std::string::npos) << "the guest started again";
  // And it keeps counting: asked again and again, it shows a later tick (the
  // test waits for that state, however long the host takes to give it one).
  const uint64_t first = last_tick(restored.output());
  EXPECT_TRUE(set_mark(restored, 79));
  bool counted_on = false;
  for (uint64_t ask = 0; ask < 600 && !counted_on; ++ask) {
    const size_t seen = restored.output().size();
    restored.write_input("p");
    if (!restored.wait_for_output_after(seen, " mark=79\n", 30s)) break;
    counted_on = last_tick(restored.output().substr(seen)) > first;
  }
  EXPECT_TRUE(counted_on) << restored.output();
  restored.write_input("q");
  EXPECT_EQ(restored.wait(30s), 0) << restored.errors();
}

// The request carries the directory as a JSON string: quotes, backslashes and
// control bytes in its name reach the VM intact.
TEST_F(Snapshot, DirectoryNamesNeedNoEscapingByTheUser) {
  VmProcess original = start_counter(control_);
  ASSERT_TRUE(original.wait_for_output("counter: ready", 30s)) << original.errors();
  ASSERT_TRUE(set_mark(original, 6));
  const std::string dir = temp_.file("snap \"quoted\" \\ tab\t");
  auto snapshot = take_snapshot(control_, dir, /*stop=*/true);
  EXPECT_EQ(snapshot.status, 0) << describe(snapshot);
  EXPECT_EQ(original.wait(30s), 0) << original.errors();
  VmProcess restored = VmProcess::start({"restore", dir});
  EXPECT_TRUE(print_shows_mark(restored, 6)) << restored.output() << restored.errors();
  restored.write_input("q");
  EXPECT_EQ(restored.wait(30s), 0) << restored.errors();
}

TEST_F(Snapshot, StopEndsTheVmWithStatusZeroAndTheSnapshotRestores) {
  VmProcess original = start_counter(control_);
  ASSERT_TRUE(original.wait_for_output("counter: ready", 30s)) << original.errors();
  ASSERT_TRUE(set_mark(original, 5));
  auto snapshot = take_snapshot(control_, snapshot_dir(), /*stop=*/true);
  EXPECT_EQ(snapshot.status, 0) << describe(snapshot);
  EXPECT_EQ(original.wait(30s), 0) << original.errors();
  VmProcess restored = VmProcess::start({"restore", snapshot_dir()});
  EXPECT_TRUE(print_shows_mark(restored, 5)) << restored.output() << restored.errors();
  restored.write_input("q");
  EXPECT_EQ(restored.wait(30s), 0) << restored.errors();
}

// 100 clones of one snapshot, each a process of its own: each writes its own
// mark and reads it back, then all read again, so a write that leaked into
// another clone (or into the shared memory file) would show.
TEST_F(Snapshot, HundredClonesHavePrivateMemory) {
  VmProcess original = boot_and_snapshot();
  original.write_input("q");
  EXPECT_EQ(original.wait(30s), 0);
  const std::string memory_before = file_contents(snapshot_dir() + "/memory");
  const std::string state_before = file_contents(snapshot_dir() + "/state");

  constexpr int kClones = 100;
  std::vector<VmProcess> clones;
  clones.reserve(kClones);
  for (int i = 0; i < kClones; ++i) clones.push_back(VmProcess::start({"restore", snapshot_dir()}));
  for (int i = 0; i < kClones; ++i) clones[static_cast<size_t>(i)].write_input("m" + std::to_string(1000 + i) + "x");
  for (int i = 0; i < kClones; ++i) {
    auto& clone = clones[static_cast<size_t>(i)];
    ASSERT_TRUE(clone.wait_for_output("counter: mark set to " + std::to_string(1000 + i) + "\n", 60s))
        << "clone " << i << ": " << clone.output() << clone.errors();
  }
  for (int i = 0; i < kClones; ++i) clones[static_cast<size_t>(i)].write_input("p");
  for (int i = 0; i < kClones; ++i) {
    auto& clone = clones[static_cast<size_t>(i)];
    EXPECT_TRUE(clone.wait_for_output(" mark=" + std::to_string(1000 + i) + "\n", 60s))
        << "clone " << i << ": " << clone.output();
    EXPECT_GE(last_tick(clone.output()), ticks_before_);
  }
  for (auto& clone : clones) clone.write_input("q");
  for (auto& clone : clones) EXPECT_EQ(clone.wait(60s), 0) << clone.errors();
  EXPECT_TRUE(file_contents(snapshot_dir() + "/memory") == memory_before) << "a clone wrote to the memory file";
  EXPECT_TRUE(file_contents(snapshot_dir() + "/state") == state_before);
}

// `vmhive clone`: N processes, each with a control socket that answers;
// stopping each one ends the command with status 0.
TEST_F(Snapshot, CloneCommandStartsClonesThatAnswerOnTheirControlSockets) {
  VmProcess original = boot_and_snapshot();
  original.write_input("q");
  EXPECT_EQ(original.wait(30s), 0);
  const std::string controls = temp_.file("controls");
  VmProcess clone = VmProcess::start({"clone", snapshot_dir(), "--count", "5", "--control-dir", controls,
                                      "--console-dir", temp_.file("consoles")});
  ASSERT_TRUE(clone.wait_for_output("clone-4 pid", 30s)) << clone.output() << clone.errors();
  for (int i = 0; i < 5; ++i) {
    const std::string socket = controls + "/clone-" + std::to_string(i) + ".sock";
    RunResult status;
    for (int attempt = 0; attempt < 100; ++attempt) {  // the clone may still be restoring
      status = run_vmhive({"snapshot", "--control", socket, temp_.file("clone-snap-" + std::to_string(i))}, 30s);
      if (status.status == 0) break;
      std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(status.status, 0) << describe(status);
  }
  // A snapshot of a clone restores too (and shows the same memory).
  VmProcess again = VmProcess::start({"restore", temp_.file("clone-snap-2")});
  EXPECT_TRUE(print_shows_mark(again, 77)) << again.output() << again.errors();
  again.write_input("q");
  EXPECT_EQ(again.wait(30s), 0);
  clone.send_signal(SIGTERM);
  auto status = clone.wait(60s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 1) << "clones stopped by a signal are not a success: " << clone.errors();
}

// The resident clone server: a pool of clones restored ahead; each request
// lets one run (with console input), and the pool refills.
TEST_F(Snapshot, CloneServerStartsReadyClonesOnRequest) {
  VmProcess original = boot_and_snapshot();
  original.write_input("q");
  EXPECT_EQ(original.wait(30s), 0);
  const std::string socket = temp_.file("server.sock");
  const std::string consoles = temp_.file("consoles");
  VmProcess server = VmProcess::start({"clone-server", snapshot_dir(), "--socket", socket, "--pool", "2",
                                       "--console-dir", consoles});
  std::string status;
  for (int attempt = 0; attempt < 300; ++attempt) {
    status = request_line(socket, R"({"op":"status"})");
    if (status.find("\"ready\":2") != std::string::npos) break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_NE(status.find("\"ready\":2"), std::string::npos) << status << server.errors();
  for (int i = 0; i < 3; ++i) {
    const std::string reply = request_line(socket, R"({"op":"clone","input":"m)" + std::to_string(500 + i) + "xp\"}");
    ASSERT_NE(reply.find("\"ok\":true"), std::string::npos) << reply << server.errors();
    ASSERT_NE(reply.find("\"start_ms\":"), std::string::npos) << reply;
    const std::string index = reply.substr(reply.find("\"index\":") + 8, 1);
    const std::string console = consoles + "/clone-" + index + ".log";
    bool answered = false;
    for (int attempt = 0; attempt < 300 && !answered; ++attempt) {
      answered = file_contents(console).find("mark=" + std::to_string(500 + i) + "\n") != std::string::npos;
      if (!answered) std::this_thread::sleep_for(50ms);
    }
    EXPECT_TRUE(answered) << console << ": " << file_contents(console);
    EXPECT_EQ(file_contents(console).find("counter: ready"), std::string::npos) << "the clone started over";
  }
  EXPECT_NE(request_line(socket, R"({"op":"status"})").find("\"started\":3"), std::string::npos);
  EXPECT_NE(request_line(socket, R"({"op":"launch"})").find("\"ok\":false"), std::string::npos);
  EXPECT_NE(request_line(socket, "not json").find("\"ok\":false"), std::string::npos);
  EXPECT_NE(request_line(socket, R"({"op":"clone","input":7})").find("\"ok\":false"), std::string::npos);
  server.send_signal(SIGTERM);
  EXPECT_EQ(server.wait(60s), 0) << server.errors();
}

TEST(CloneServer, BadSnapshotIsOneClearLine) {
  TempDir temp;
  auto result = run_vmhive({"clone-server", temp.file("none"), "--socket", temp.file("s.sock")}, 30s);
  EXPECT_EQ(result.status, 1) << describe(result);
  EXPECT_EQ(lines_of(result.errors).size(), 1u) << result.errors;
}

// Bad snapshots are one clear line and exit status 1, before any vCPU runs.
class BadSnapshot : public Snapshot {
 protected:
  void SetUp() override {
    Snapshot::SetUp();
    if (IsSkipped()) return;
    VmProcess vm = start_counter(control_);
    ASSERT_TRUE(vm.wait_for_output("counter: ready", 30s)) << vm.errors();
    auto snapshot = take_snapshot(control_, snapshot_dir(), /*stop=*/true);
    ASSERT_EQ(snapshot.status, 0) << describe(snapshot);
    ASSERT_EQ(vm.wait(30s), 0);
  }
  void expect_refused(const std::string& expected) {
    auto result = run_vmhive({"restore", snapshot_dir()}, 30s);
    EXPECT_EQ(result.status, 1) << describe(result);
    auto lines = lines_of(result.errors);
    ASSERT_EQ(lines.size(), 1u) << describe(result);
    EXPECT_NE(lines[0].find(expected), std::string::npos) << lines[0];
    EXPECT_EQ(result.output, "");
  }
  void rewrite_state(const std::function<void(std::string&)>& change) {
    std::string state = file_contents(snapshot_dir() + "/state");
    change(state);
    std::ofstream(snapshot_dir() + "/state", std::ios::binary | std::ios::trunc) << state;
  }
};

TEST_F(BadSnapshot, MissingDirectory) {
  auto result = run_vmhive({"restore", temp_.file("nowhere")}, 30s);
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.errors.find("cannot open"), std::string::npos) << result.errors;
}
TEST_F(BadSnapshot, TruncatedStateFile) {
  rewrite_state([](std::string& state) { state.resize(state.size() / 2); });
  expect_refused("truncated");
}
TEST_F(BadSnapshot, CorruptedSection) {
  rewrite_state([](std::string& state) { state[state.size() / 2] ^= 0x40; });  // inside a vCPU's section
  expect_refused("checksum mismatch");
}
TEST_F(BadSnapshot, NotAStateFile) {
  rewrite_state([](std::string& state) { state = "hello, world, this is not a snapshot at all"; });
  expect_refused("bad magic");
}
TEST_F(BadSnapshot, MemoryFileOfTheWrongSize) {
  ASSERT_EQ(::truncate((snapshot_dir() + "/memory").c_str(), 4096), 0);
  expect_refused("memory file is 4096 bytes");
}
TEST_F(BadSnapshot, MissingMemoryFile) {
  ASSERT_EQ(::unlink((snapshot_dir() + "/memory").c_str()), 0);
  expect_refused("memory");
}

TEST(SnapshotCommand, NoVmBehindTheSocketIsOneClearLine) {
  TempDir temp;
  auto result = run_vmhive({"snapshot", "--control", temp.file("absent.sock"), temp.file("dir")}, 30s);
  EXPECT_EQ(result.status, 1);
  auto lines = lines_of(result.errors);
  ASSERT_EQ(lines.size(), 1u) << describe(result);
  EXPECT_NE(lines[0].find("cannot reach the VM"), std::string::npos) << lines[0];
}

TEST(CloneCommand, BadCountIsOneClearLine) {
  TempDir temp;
  for (const char* count : {"0", "abc", "1000001"}) {
    auto result = run_vmhive({"clone", temp.path(), "--count", count}, 30s);
    EXPECT_EQ(result.status, 2) << "a count outside 1..100000 is a usage error: " << describe(result);
    EXPECT_EQ(lines_of(result.errors).size(), 1u) << result.errors;
    EXPECT_NE(result.errors.find(std::string("--count: Value ") + count + " not in range 1 to 100000"),
              std::string::npos)
        << result.errors;
  }
}

}  // namespace
}  // namespace vmhive::testing
