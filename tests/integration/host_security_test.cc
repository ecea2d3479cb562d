// The host side as an attacker on the same machine sees it (docs/security.md):
// the control socket and snapshot files are the owner's alone whatever the
// umask, links planted where vmhive writes are never followed, a file at the
// control socket's path is never deleted, and clients that connect and say
// nothing delay neither the guest, its console, its signals nor anyone else.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "arch/x86/layout.h"
#include "common/host_memory.h"
#include "common/state_codec.h"
#include "file_contents.h"
#include "snapshot/machine_state.h"
#include "snapshot/state_file.h"
#include "temp_dir.h"
#include "../common/line_socket.h"
#include "vm_process.h"

namespace vmhive::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

mode_t mode_of(const std::string& path) {
  struct stat info {};
  EXPECT_EQ(::lstat(path.c_str(), &info), 0) << path;
  return info.st_mode;
}

class HostSecurity : public ::testing::Test {
 protected:
  void SetUp() override { VMHIVE_REQUIRE_KVM(); }
  void TearDown() override {
    for (int fd : silent_) ::close(fd);
  }
  // An echo guest with a control socket, started under umask `mask`.
  VmProcess start_echo(mode_t mask = 022) {
    const mode_t old = ::umask(mask);
    VmProcess vm = VmProcess::start({"run", "--kernel", guest_path("echo"), "--control", control_});
    ::umask(old);
    return vm;
  }

  TempDir temp_;
  std::string control_ = temp_.file("control.sock");
  std::vector<int> silent_;
};

TEST_F(HostSecurity, TheControlSocketIsTheOwnersWhateverTheUmask) {
  VmProcess vm = start_echo(0);
  ASSERT_TRUE(vm.wait_for_output("echo: ready", 30s)) << vm.errors();
  EXPECT_TRUE(S_ISSOCK(mode_of(control_)));
  EXPECT_EQ(mode_of(control_) & 0777, 0600u);
  EXPECT_NE(request_line(control_, R"({"op":"status"})", 10s).find("\"running\""), std::string::npos);
  vm.send_signal(SIGTERM);
  EXPECT_EQ(vm.wait(30s), 143);
  EXPECT_FALSE(std::filesystem::exists(control_)) << "the socket goes with the VM";
}

TEST_F(HostSecurity, AFileAtTheControlPathIsNeverDeleted) {
  std::ofstream(control_) << "precious";
  auto result = run_vmhive({"run", "--kernel", guest_path("echo"), "--control", control_}, 30s);
  EXPECT_EQ(result.status, 1) << describe(result);
  EXPECT_EQ(lines_of(result.errors).size(), 1u) << result.errors;
  EXPECT_NE(result.errors.find("not a socket; refusing to replace it"), std::string::npos) << result.errors;
  EXPECT_EQ(file_contents(control_), "precious");
}

// Five clients connect and say nothing (one sends half a request): the
// guest still echoes its console input at once, a status request is
// answered at once, and SIGTERM ends the VM at once. (When each connection
// was read with a blocking 2 s timeout, these took 3 s, 20 s and 4 s; the
// bounds leave room for a loaded machine and still tell the two apart.)
TEST_F(HostSecurity, SilentClientsDelayNothing) {
  VmProcess vm = start_echo();
  ASSERT_TRUE(vm.wait_for_output("echo: ready", 30s)) << vm.errors();
  for (int i = 0; i < 5; ++i) {
    const int fd = connect_unix(control_);
    ASSERT_GE(fd, 0);
    silent_.push_back(fd);
  }
  ASSERT_EQ(::send(silent_[3], "{\"op\":", 6, MSG_NOSIGNAL), 6);

  const auto typed = Clock::now();
  vm.write_input("hello");
  ASSERT_TRUE(vm.wait_for_output("hello", 10s)) << vm.output();
  EXPECT_LT(Clock::now() - typed, 2500ms) << "console input waited for the silent clients";

  const auto asked = Clock::now();
  EXPECT_NE(request_line(control_, R"({"op":"status"})", 10s).find("\"running\""), std::string::npos);
  EXPECT_LT(Clock::now() - asked, 2500ms) << "the status request waited for the silent clients";

  const auto signalled = Clock::now();
  vm.send_signal(SIGTERM);
  EXPECT_EQ(vm.wait(10s), 143) << vm.errors();
  EXPECT_LT(Clock::now() - signalled, 3s) << "SIGTERM waited for the silent clients";
}

TEST_F(HostSecurity, AnotherUserCannotControlTheVm) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to connect as another user";
  VmProcess vm = start_echo();
  ASSERT_TRUE(vm.wait_for_output("echo: ready", 30s)) << vm.errors();
  // Even with the socket and its directory open to everyone, the peer check refuses.
  ASSERT_EQ(::chmod(control_.c_str(), 0666), 0);
  ASSERT_EQ(::chmod(temp_.path().c_str(), 0755), 0);
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) ::_exit(2);
    const std::string reply = request_line(control_, R"({"op":"stop"})", 10s);
    (void)!::write(pipe_fds[1], reply.data(), reply.size());
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  char reply[512] = {};
  (void)!::read(pipe_fds[0], reply, sizeof reply - 1);
  ::close(pipe_fds[0]);
  EXPECT_NE(std::string(reply).find("permission denied"), std::string::npos) << reply;
  EXPECT_NE(request_line(control_, R"({"op":"status"})", 10s).find("\"running\""), std::string::npos)
      << "the other user's stop did nothing";
  vm.send_signal(SIGTERM);
  EXPECT_EQ(vm.wait(30s), 143);
}

// Links planted where a snapshot's files go, at their temporary and final
// names, under umask 000: nothing outside the directory changes, and the
// snapshot is private.
TEST_F(HostSecurity, SnapshotsFollowNoPlantedLinksAndArePrivate) {
  const std::string snapshot = temp_.file("snapshot");
  ASSERT_EQ(::mkdir(snapshot.c_str(), 0700), 0);
  const std::string victim = temp_.file("victim");
  std::ofstream(victim) << "precious";
  ASSERT_EQ(::chmod(victim.c_str(), 0600), 0);
  for (const char* name : {"memory.tmp", "state.tmp", "memory", "state"})
    ASSERT_EQ(::symlink(victim.c_str(), (snapshot + "/" + name).c_str()), 0);
  VmProcess vm = VmProcess::start({"run", "--kernel", guest_path("counter"), "--control", control_});
  ASSERT_TRUE(vm.wait_for_output("counter: ready", 30s)) << vm.errors();
  const mode_t old = ::umask(0);
  auto taken = run_vmhive({"snapshot", "--control", control_, snapshot, "--stop"}, 60s);
  ::umask(old);
  ASSERT_EQ(taken.status, 0) << describe(taken);
  EXPECT_EQ(vm.wait(30s), 0);
  EXPECT_EQ(file_contents(victim), "precious");
  EXPECT_EQ(mode_of(victim) & 0777, 0600u);
  for (const char* name : {"memory", "state"}) {
    EXPECT_TRUE(S_ISREG(mode_of(snapshot + "/" + name))) << name;
    EXPECT_EQ(mode_of(snapshot + "/" + name) & 0777, 0600u) << name;
  }
  // A snapshot directory vmhive creates itself is 0700.
  const std::string fresh = temp_.file("fresh");
  VmProcess second = VmProcess::start({"run", "--kernel", guest_path("counter"), "--control", control_});
  ASSERT_TRUE(second.wait_for_output("counter: ready", 30s)) << second.errors();
  const mode_t old_mask = ::umask(0);
  auto again = run_vmhive({"snapshot", "--control", control_, fresh, "--stop"}, 60s);
  ::umask(old_mask);
  ASSERT_EQ(again.status, 0) << describe(again);
  EXPECT_EQ(second.wait(30s), 0);
  EXPECT_EQ(mode_of(fresh) & 0777, 0700u);
}

TEST_F(HostSecurity, ConsoleFilesFollowNoLinksAndAreCapped) {
  const std::string victim = temp_.file("victim");
  std::ofstream(victim) << "precious";
  const std::string linked = temp_.file("linked.log");
  ASSERT_EQ(::symlink(victim.c_str(), linked.c_str()), 0);
  auto through_link = run_vmhive({"run", "--kernel", guest_path("hello"), "--console", linked}, 30s);
  EXPECT_EQ(through_link.status, 1) << describe(through_link);
  EXPECT_NE(through_link.errors.find("symbolic link"), std::string::npos) << through_link.errors;
  const std::string hard = temp_.file("hard.log");
  ASSERT_EQ(::link(victim.c_str(), hard.c_str()), 0);
  auto through_hard_link = run_vmhive({"run", "--kernel", guest_path("hello"), "--console", hard}, 30s);
  EXPECT_EQ(through_hard_link.status, 1) << describe(through_hard_link);
  EXPECT_NE(through_hard_link.errors.find("other names"), std::string::npos) << through_hard_link.errors;
  EXPECT_EQ(file_contents(victim), "precious");

  // A guest cannot fill the disk: the file stops at the limit, with a note.
  const std::string log = temp_.file("echo.log");
  const mode_t old = ::umask(0);
  VmProcess vm = VmProcess::start({"run", "--kernel", guest_path("echo"), "--console", log, "--console-limit", "4K"});
  ::umask(old);
  vm.write_input(std::string(8000, 'a') + "q");
  EXPECT_EQ(vm.wait(30s), 0) << vm.errors();
  const std::string written = file_contents(log);
  EXPECT_LT(written.size(), 4096u + 200) << "capped";
  EXPECT_NE(written.find("console output stopped here, at the limit of 4096 bytes"), std::string::npos);
  EXPECT_EQ(written.find("echo: bye"), std::string::npos) << "nothing after the note";
  EXPECT_EQ(mode_of(log) & 0777, 0600u);
}

// The fields of /proc/PID/status (or of one of its threads) a test checks.
std::string status_field(const std::string& status_path, const std::string& key) {
  std::ifstream status(status_path);
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      const size_t value = line.find_first_not_of(" \t", key.size() + 1);
      return value == std::string::npos ? std::string() : line.substr(value);
    }
  }
  return "(missing)";
}

// Once running, a VM process holds no capability, cannot gain privileges,
// runs every thread under its seccomp filter, and keeps no descriptor its
// launcher left open.
TEST_F(HostSecurity, ARunningVmIsConfined) {
  const int stray = ::open("/dev/null", O_RDONLY);  // not close-on-exec: a careless launcher's
  ASSERT_GE(stray, 0);
  VmProcess vm = start_echo();
  ::close(stray);
  ASSERT_TRUE(vm.wait_for_output("echo: ready", 30s)) << vm.errors();
  const std::string proc = "/proc/" + std::to_string(vm.pid());
  EXPECT_EQ(status_field(proc + "/status", "CapEff"), "0000000000000000");
  EXPECT_EQ(status_field(proc + "/status", "CapPrm"), "0000000000000000");
  EXPECT_EQ(status_field(proc + "/status", "NoNewPrivs"), "1");
  size_t threads = 0;
  for (const auto& task : std::filesystem::directory_iterator(proc + "/task")) {
    ++threads;
    EXPECT_EQ(status_field(task.path().string() + "/status", "Seccomp"), "2") << task.path();
  }
  EXPECT_GE(threads, 2u) << "the main thread and a vCPU";
  for (const auto& fd : std::filesystem::directory_iterator(proc + "/fd")) {
    std::error_code error;
    const auto target = std::filesystem::read_symlink(fd.path(), error).string();
    if (std::stoi(fd.path().filename().string()) > 2) {
      EXPECT_NE(target, "/dev/null") << "fd " << fd.path().filename() << " was left open by the launcher";
    }
  }
  // Still a working VM: console and control socket.
  vm.write_input("ok");
  EXPECT_TRUE(vm.wait_for_output("ok", 10s));
  EXPECT_NE(request_line(control_, R"({"op":"status"})", 10s).find("\"running\""), std::string::npos);
  vm.send_signal(SIGTERM);
  EXPECT_EQ(vm.wait(30s), 143);
}

TEST_F(HostSecurity, WithoutSeccompCapabilitiesAreStillDropped) {
  VmProcess vm = VmProcess::start({"run", "--kernel", guest_path("echo"), "--no-seccomp"});
  ASSERT_TRUE(vm.wait_for_output("echo: ready", 30s)) << vm.errors();
  const std::string status = "/proc/" + std::to_string(vm.pid()) + "/status";
  EXPECT_EQ(status_field(status, "Seccomp"), "0");
  EXPECT_EQ(status_field(status, "CapEff"), "0000000000000000");
  vm.send_signal(SIGTERM);
  EXPECT_EQ(vm.wait(30s), 143);
}

// A forbidden call (a test-only switch makes one) stops that VM with one
// line; another VM on the host runs on.
TEST_F(HostSecurity, AForbiddenCallStopsOnlyThatVm) {
  VmProcess bystander = start_echo();
  ASSERT_TRUE(bystander.wait_for_output("echo: ready", 30s)) << bystander.errors();
  auto violator = run_vmhive({"run", "--kernel", guest_path("echo"), "--test-forbidden-call"}, 30s);
  EXPECT_EQ(violator.status, 1) << describe(violator);
  EXPECT_EQ(lines_of(violator.errors).size(), 1u) << violator.errors;
  EXPECT_NE(violator.errors.find("the main thread made the forbidden system call 41"), std::string::npos)
      << violator.errors;
  bystander.write_input("still here");
  EXPECT_TRUE(bystander.wait_for_output("still here", 10s)) << bystander.output();
  bystander.send_signal(SIGTERM);
  EXPECT_EQ(bystander.wait(30s), 143);
}

// Truncating a snapshot's memory file under a restored VM takes its RAM
// away: the VM stops with one line saying so (exit status 1), not as a
// guest crash (a triple fault, exit status 4).
TEST_F(HostSecurity, AMemoryFileTruncatedUnderAVmIsNamed) {
  const std::string snapshot = temp_.file("snapshot");
  VmProcess vm = VmProcess::start({"run", "--kernel", guest_path("counter"), "--control", control_});
  ASSERT_TRUE(vm.wait_for_output("counter: ready", 30s)) << vm.errors();
  ASSERT_EQ(run_vmhive({"snapshot", "--control", control_, snapshot, "--stop"}, 60s).status, 0);
  EXPECT_EQ(vm.wait(30s), 0);
  VmProcess restored = VmProcess::start({"restore", snapshot});
  restored.write_input("p");
  ASSERT_TRUE(restored.wait_for_output("tick=", 30s)) << restored.output() << restored.errors();
  ASSERT_EQ(::truncate((snapshot + "/memory").c_str(), 0), 0);
  restored.write_input("p");
  EXPECT_EQ(restored.wait(30s), 1) << restored.errors();
  EXPECT_EQ(lines_of(restored.errors()).size(), 1u) << restored.errors();
  EXPECT_TRUE(restored.errors().find("memory file shrank under this VM") != std::string::npos ||
              restored.errors().find("memory file was truncated under this VM") != std::string::npos)
      << restored.errors();
}

// The first child of `pid` (a jailed VM's launcher starts the VM as its child).
pid_t child_of(pid_t pid) {
  std::ifstream children("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  pid_t child = 0;
  children >> child;
  return child;
}

std::string namespace_of(const std::string& pid, const char* kind) {
  std::error_code error;
  return std::filesystem::read_symlink("/proc/" + pid + "/ns/" + kind, error).string();
}

// A jailed VM: its own PID, mount, network, IPC and UTS namespaces, the
// jail directory as its root (nothing of the host's files by name), an
// unprivileged user, and still a working VM (console, control, snapshots
// inside the jail, SIGTERM through its launcher).
TEST_F(HostSecurity, AJailedVmSeesOnlyItsJail) {
  if (::geteuid() != 0) GTEST_SKIP() << "the jail needs root to set up";
  const std::string jail = temp_.file("jail");
  VmProcess vm = VmProcess::start({"run", "--kernel", guest_path("echo"), "--control", control_, "--jail", jail,
                                   "--jail-user", "65534:65534"});
  ASSERT_TRUE(vm.wait_for_output("echo: ready", 30s)) << vm.errors();
  const pid_t inner = child_of(vm.pid());
  ASSERT_GT(inner, 0);
  const std::string proc = "/proc/" + std::to_string(inner);
  EXPECT_EQ(status_field(proc + "/status", "Uid"), "65534\t65534\t65534\t65534");
  EXPECT_EQ(status_field(proc + "/status", "Gid"), "65534\t65534\t65534\t65534");
  EXPECT_EQ(status_field(proc + "/status", "NSpid"), std::to_string(inner) + "\t1") << "PID 1 of its own namespace";
  EXPECT_EQ(status_field(proc + "/status", "CapEff"), "0000000000000000");
  // The main thread loads its filter once the vCPUs run: the guest can print before it.
  const auto filtered_by = std::chrono::steady_clock::now() + 20s;
  while (status_field(proc + "/status", "Seccomp") != "2" && std::chrono::steady_clock::now() < filtered_by)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(status_field(proc + "/status", "Seccomp"), "2");
  for (const char* kind : {"mnt", "net", "ipc", "uts", "pid"})
    EXPECT_NE(namespace_of(std::to_string(inner), kind), namespace_of("self", kind)) << kind;
  std::vector<std::string> visible;
  for (const auto& entry : std::filesystem::directory_iterator(proc + "/root")) visible.push_back(entry.path().filename());
  EXPECT_EQ(visible, std::vector<std::string>{"proc"}) << "the jail's root holds only its /proc";

  vm.write_input("jailed");
  EXPECT_TRUE(vm.wait_for_output("jailed", 10s));
  const std::string reply = request_line(control_, R"({"op":"snapshot","dir":"/snap","resume":true})", 60s);
  EXPECT_NE(reply.find("\"ok\":true"), std::string::npos) << reply;
  EXPECT_TRUE(std::filesystem::is_regular_file(jail + "/snap/state")) << "the snapshot lands inside the jail";
  vm.send_signal(SIGTERM);
  EXPECT_EQ(vm.wait(30s), 143) << vm.errors();
  EXPECT_FALSE(std::filesystem::exists(control_)) << "the launcher removes the socket the VM cannot reach";
}

// A crafted state file asking for twice this host's RAM (its memory file a
// sparse file of the size the state gives): refused as --mem would be.
TEST_F(HostSecurity, ASnapshotCannotAskForMoreRamThanTheHostHas) {
  const std::string snapshot = temp_.file("snapshot");
  VmProcess vm = VmProcess::start({"run", "--kernel", guest_path("counter"), "--control", control_});
  ASSERT_TRUE(vm.wait_for_output("counter: ready", 30s)) << vm.errors();
  ASSERT_EQ(run_vmhive({"snapshot", "--control", control_, snapshot, "--stop"}, 60s).status, 0);
  EXPECT_EQ(vm.wait(30s), 0);

  const std::string bytes = file_contents(snapshot + "/state");
  auto file = snapshot::StateFile::parse(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  ASSERT_TRUE(file.ok()) << file.error().message;
  snapshot::StateFileWriter crafted;
  uint64_t memory_file_size = 0;
  for (const auto& section : file->sections()) {
    auto payload = section.payload;
    if (section.tag == snapshot::kMachineSection && section.instance == 0) {
      auto description = decode_state<snapshot::MachineDescription>(payload, "machine");
      ASSERT_TRUE(description.ok()) << description.error().message;
      description->memory_size = (host_physical_memory() * 2 + (1ull << 30)) & ~((1ull << 30) - 1);
      description->memory_file_size = 0;
      for (const auto& region : x86::ram_regions(description->memory_size)) description->memory_file_size += region.size;
      memory_file_size = description->memory_file_size;
      payload = encode_state(*description);
    }
    crafted.add(section.tag, section.instance, payload);
  }
  const auto out = crafted.finish();
  std::ofstream(snapshot + "/state", std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(out.data()), static_cast<std::streamsize>(out.size()));
  ASSERT_EQ(::truncate((snapshot + "/memory").c_str(), static_cast<off_t>(memory_file_size)), 0);

  auto result = run_vmhive({"restore", snapshot}, 60s);
  EXPECT_EQ(result.status, 1) << describe(result);
  EXPECT_EQ(lines_of(result.errors).size(), 1u) << result.errors;
  EXPECT_NE(result.errors.find("of RAM; this host has"), std::string::npos) << result.errors;
}

}  // namespace
}  // namespace vmhive::testing
