// The `idle` test guest halts until its console has input (the UART's
// receive interrupt wakes it), so an idle VM, and each of many idle clones,
// should cost the host no CPU. These tests measure that from /proc.
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "temp_dir.h"
#include "vm_process.h"

namespace vmhive::testing {
namespace {

using namespace std::chrono_literals;

// User plus system CPU time of a process so far, in seconds.
double cpu_seconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(stat, text);
  const size_t after_name = text.rfind(')');
  if (after_name == std::string::npos) return -1;
  std::istringstream fields(text.substr(after_name + 2));
  std::string field;
  unsigned long long user = 0, system = 0;
  for (int index = 3; fields >> field; ++index) {  // field 3 is the state
    if (index == 14) user = std::stoull(field);
    if (index == 15) {
      system = std::stoull(field);
      break;
    }
  }
  return static_cast<double>(user + system) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

TEST(IdleGuest, WaitsWithoutUsingTheHostCpuAndWakesOnInput) {
  VMHIVE_REQUIRE_KVM();
  VmProcess vm = VmProcess::start({"run", "--kernel", guest_path("idle")});
  ASSERT_TRUE(vm.wait_for_output("idle: ready\n", 30s)) << vm.output() << vm.errors();
  std::this_thread::sleep_for(300ms);
  const double before = cpu_seconds(vm.pid());
  std::this_thread::sleep_for(3s);
  const double used = cpu_seconds(vm.pid()) - before;
  EXPECT_LT(used, 0.3) << "an idle guest used " << used << " s of CPU in 3 s";
  vm.write_input("m12x");
  EXPECT_TRUE(vm.wait_for_output("idle: mark set to 12\n", 30s)) << vm.output();
  vm.write_input("p");
  ASSERT_TRUE(vm.wait_for_output("mark=12\n", 30s)) << vm.output();
  // Each command woke it once or twice, not a loop of spurious wake-ups.
  const size_t at = vm.output().rfind("wakeups=");
  ASSERT_NE(at, std::string::npos);
  EXPECT_LE(std::stoull(vm.output().substr(at + 8)), 10u) << vm.output();
  vm.write_input("q");
  EXPECT_EQ(vm.wait(30s), 0) << vm.errors();
}

// Clones of a halted guest: restored halted, each wakes on its own console
// with the snapshot's memory, and together they stay off the CPU.
TEST(IdleGuest, ClonesOfAHaltedGuestSleepAndAnswer) {
  VMHIVE_REQUIRE_KVM();
  TempDir temp;
  const std::string control = temp.file("control.sock");
  const std::string snapshot = temp.file("snapshot");
  VmProcess vm = VmProcess::start({"run", "--kernel", guest_path("idle"), "--control", control});
  ASSERT_TRUE(vm.wait_for_output("idle: ready\n", 30s)) << vm.errors();
  vm.write_input("m7x");
  ASSERT_TRUE(vm.wait_for_output("idle: mark set to 7\n", 30s)) << vm.output();
  auto taken = run_vmhive({"snapshot", "--control", control, "--stop", snapshot}, 60s);
  ASSERT_EQ(taken.status, 0) << describe(taken);
  ASSERT_EQ(vm.wait(30s), 0) << vm.errors();

  constexpr unsigned kClones = 20;
  std::vector<VmProcess> clones;
  clones.reserve(kClones);
  for (unsigned i = 0; i < kClones; ++i) clones.push_back(VmProcess::start({"restore", snapshot}));
  for (unsigned i = 0; i < kClones; ++i) clones[i].write_input("p");
  for (unsigned i = 0; i < kClones; ++i)
    ASSERT_TRUE(clones[i].wait_for_output(" mark=7\n", 60s)) << i << ": " << clones[i].output() << clones[i].errors();
  std::this_thread::sleep_for(300ms);
  double before = 0;
  for (auto& clone : clones) before += cpu_seconds(clone.pid());
  std::this_thread::sleep_for(2s);
  double used = -before;
  for (auto& clone : clones) used += cpu_seconds(clone.pid());
  EXPECT_LT(used, 0.5) << kClones << " idle clones used " << used << " s of CPU in 2 s";
  for (unsigned i = 0; i < kClones; ++i) clones[i].write_input("m" + std::to_string(100 + i) + "xp");
  for (unsigned i = 0; i < kClones; ++i) {
    EXPECT_TRUE(clones[i].wait_for_output(" mark=" + std::to_string(100 + i) + "\n", 60s)) << clones[i].output();
    clones[i].write_input("q");
  }
  for (auto& clone : clones) EXPECT_EQ(clone.wait(30s), 0) << clone.errors();
}

}  // namespace
}  // namespace vmhive::testing
