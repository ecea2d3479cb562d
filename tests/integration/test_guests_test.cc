// The tiny test guests (guests/) booted by the real vmhive binary on KVM:
// console output, SMP start-up, the memory map and ACPI tables as a guest
// reads them, console input, and every documented exit status.
#include <signal.h>

#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>

#include <unistd.h>

#include <gtest/gtest.h>

#include "vm_process.h"

namespace vmhive::testing {
namespace {

using namespace std::chrono_literals;
constexpr auto kGuestTimeout = 60s;

TEST(TestGuests, HelloPrintsAndExitsZero) {
  VMHIVE_REQUIRE_KVM();
  auto result = run_guest("hello");
  EXPECT_EQ(result.status, 0) << describe(result);
  EXPECT_TRUE(has_line(result, "hello from vmhive test guest")) << describe(result);
  EXPECT_EQ(result.errors, "") << describe(result);
}

class SmpGuest : public ::testing::TestWithParam<int> {};

TEST_P(SmpGuest, EveryCpuChecksIn) {
  VMHIVE_REQUIRE_KVM();
  const int cpus = GetParam();
  auto result = run_guest("smp", {"--cpus", std::to_string(cpus)});
  EXPECT_EQ(result.status, 0) << describe(result);
  EXPECT_TRUE(has_line(result, "smp: " + std::to_string(cpus) + " cpus in MADT")) << describe(result);
  for (int cpu = 1; cpu < cpus; ++cpu) {
    EXPECT_TRUE(has_line(result, "smp: cpu " + std::to_string(cpu) + " checked in")) << describe(result);
  }
  EXPECT_TRUE(has_line(result, "smp: all " + std::to_string(cpus) + " cpus online")) << describe(result);
}

INSTANTIATE_TEST_SUITE_P(CpuCounts, SmpGuest, ::testing::Values(1, 2, 4));

std::string hex(uint64_t value) {
  char text[32];
  std::snprintf(text, sizeof text, "0x%" PRIx64, value);
  return text;
}

struct MemsizeCase {
  const char* mem;
  std::vector<std::string> e820_lines;  // in the order vmhive gives them
  uint64_t ram_kib;
  uint64_t top;
};

class MemsizeGuest : public ::testing::TestWithParam<MemsizeCase> {};

TEST_P(MemsizeGuest, SeesTheMemoryMapAndAcpiWeGave) {
  VMHIVE_REQUIRE_KVM();
  const auto& expected = GetParam();
  auto result = run_guest("memsize", {"--mem", expected.mem});
  EXPECT_EQ(result.status, 0) << describe(result);
  std::vector<std::string> e820;
  for (const auto& line : lines_of(result.output)) {
    if (line.rfind("e820: ", 0) == 0) e820.push_back(line);
  }
  EXPECT_EQ(e820, expected.e820_lines) << describe(result);
  EXPECT_TRUE(has_line(result, "memsize: ram " + std::to_string(expected.ram_kib) + " KiB, top " + hex(expected.top)))
      << describe(result);
  // RSDP at the start of the tables area; the XSDT lists FACP and APIC (the DSDT hangs off the FADT).
  EXPECT_TRUE(has_line(result, "memsize: acpi rsdp at 0xe0000, 2 tables")) << describe(result);
}

INSTANTIATE_TEST_SUITE_P(
    Sizes, MemsizeGuest,
    ::testing::Values(
        MemsizeCase{"128M",
                    {"e820: 0x0-0x9fc00 type 1", "e820: 0x9fc00-0x100000 type 2", "e820: 0x100000-0x8000000 type 1"},
                    (0x9fc00 + 0x8000000 - 0x100000) / 1024,
                    0x8000000},
        MemsizeCase{"3G",
                    {"e820: 0x0-0x9fc00 type 1", "e820: 0x9fc00-0x100000 type 2", "e820: 0x100000-0xc0000000 type 1"},
                    (0x9fc00 + 0xc0000000ull - 0x100000) / 1024,
                    0xc0000000}),
    [](const auto& test) { return std::string(test.param.mem); });

TEST(TestGuests, MemoryAboveThePciHoleStartsAt4G) {
  VMHIVE_REQUIRE_KVM();
  auto result = run_guest("memsize", {"--mem", "4G"});
  EXPECT_EQ(result.status, 0) << describe(result);
  EXPECT_TRUE(has_line(result, "e820: 0x100000000-0x140000000 type 1")) << describe(result);
  EXPECT_TRUE(has_line(result, "memsize: ram " + std::to_string((0x9fc00 + 0x100000000ull - 0x100000) / 1024) +
                                   " KiB, top 0x140000000"))
      << describe(result);
}

TEST(TestGuests, ConsoleInputIsEchoed) {
  VMHIVE_REQUIRE_KVM();
  VmProcess vm = VmProcess::start({"run", "--kernel", guest_path("echo")});
  ASSERT_TRUE(vm.wait_for_output("echo: ready", kGuestTimeout)) << vm.output() << vm.errors();
  vm.write_input("abc");
  EXPECT_TRUE(vm.wait_for_output("abc", kGuestTimeout)) << vm.output() << vm.errors();
  vm.write_input("q");
  EXPECT_EQ(vm.wait(kGuestTimeout), 0) << vm.output() << vm.errors();
  EXPECT_NE(vm.output().find("echo: bye"), std::string::npos) << vm.output();
}

TEST(TestGuests, LongInputIsNotLost) {
  VMHIVE_REQUIRE_KVM();
  VmProcess vm = VmProcess::start({"run", "--kernel", guest_path("echo")});
  ASSERT_TRUE(vm.wait_for_output("echo: ready", kGuestTimeout)) << vm.output() << vm.errors();
  std::string input;
  // Anything but 'q' and Ctrl-D, which end the guest.
  for (int i = 0; i < 300; ++i) input += static_cast<char>('A' + i % 26);
  vm.write_input(input + "q");
  EXPECT_EQ(vm.wait(kGuestTimeout), 0) << vm.output() << vm.errors();
  EXPECT_NE(vm.output().find(input), std::string::npos) << vm.output();
}

struct ActionCase {
  const char* action;
  int status;
  const char* stderr_text;  // a piece of what vmhive says on stderr ("" for nothing)
};

class ActionsGuest : public ::testing::TestWithParam<ActionCase> {};

TEST_P(ActionsGuest, ExitStatusSaysHowTheVmEnded) {
  VMHIVE_REQUIRE_KVM();
  const auto& expected = GetParam();
  auto result = run_guest("actions", {"--cmdline", std::string("action=") + expected.action});
  EXPECT_EQ(result.status, expected.status) << describe(result);
  EXPECT_TRUE(has_line(result, std::string("actions: ") + expected.action)) << describe(result);
  if (*expected.stderr_text == '\0') {
    EXPECT_EQ(result.errors, "") << describe(result);
  } else {
    EXPECT_NE(result.errors.find(expected.stderr_text), std::string::npos) << describe(result);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Actions, ActionsGuest,
    ::testing::Values(ActionCase{"poweroff", 0, ""}, ActionCase{"reset", 3, "reset"},
                      ActionCase{"debug-exit:0", 0, ""}, ActionCase{"debug-exit:7", 5, "debug-exit port"},
                      ActionCase{"triple-fault", 4, "triple fault"},
                      // Hardware: no IDT, so a triple fault. PVM: KVM cannot emulate INT3.
                      ActionCase{"ring0-int3", 4, "guest crashed"}),
    [](const auto& test) {
      std::string name = test.param.action;
      for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

// The path of every Linux system call: SYSCALL from ring 3 to a
// supervisor-only entry, SWAPGS, SYSRETQ. On KVM-PVM this works only because
// vmhive finishes the SYSCALL the host leaves in ring 3 (pvm_syscall_repair.h).
TEST(TestGuests, SyscallReachesRingZeroAndReturns) {
  VMHIVE_REQUIRE_KVM();
  auto result = run_guest("actions", {"--cmdline", "action=syscall", "--report-timing"});
  EXPECT_EQ(result.status, 0) << describe(result);
  EXPECT_TRUE(has_line(result, "actions: syscall returned 8, handler cs=0x8 count=1")) << describe(result);
  if (::access("/sys/module/kvm_pvm", F_OK) == 0) {
    EXPECT_NE(result.errors.find("SYSCALLs finished 1"), std::string::npos) << describe(result);
  }
}

TEST(TestGuests, CrashReportShowsRegisters) {
  VMHIVE_REQUIRE_KVM();
  auto result = run_guest("actions", {"--cmdline", "action=triple-fault"});
  EXPECT_EQ(result.status, 4) << describe(result);
  EXPECT_NE(result.errors.find("rip "), std::string::npos) << describe(result);
  EXPECT_NE(result.errors.find("cr3 "), std::string::npos) << describe(result);
}

class StopSignal : public ::testing::TestWithParam<int> {};

TEST_P(StopSignal, StopsTheVmCleanly) {
  VMHIVE_REQUIRE_KVM();
  const int signal = GetParam();
  VmProcess vm = VmProcess::start(
      {"run", "--kernel", guest_path("actions"), "--cmdline", "action=halt-forever", "--cpus", "2"});
  ASSERT_TRUE(vm.wait_for_output("actions: halt-forever", kGuestTimeout)) << vm.output() << vm.errors();
  vm.send_signal(signal);
  EXPECT_EQ(vm.wait(10s), 128 + signal) << vm.output() << vm.errors();
}

INSTANTIATE_TEST_SUITE_P(Signals, StopSignal, ::testing::Values(SIGINT, SIGTERM));

TEST(TestGuests, ConsoleToAFile) {
  VMHIVE_REQUIRE_KVM();
  std::string path = ::testing::TempDir() + "vmhive-console-test.txt";
  std::remove(path.c_str());
  auto result = run_guest("hello", {"--console", path});
  EXPECT_EQ(result.status, 0) << describe(result);
  EXPECT_EQ(result.output, "") << describe(result);
  std::ifstream file(path);
  std::stringstream contents;
  contents << file.rdbuf();
  EXPECT_NE(contents.str().find("hello from vmhive test guest"), std::string::npos) << contents.str();
  std::remove(path.c_str());
}

TEST(TestGuests, ExitsGuestCountsPortIoExits) {
  VMHIVE_REQUIRE_KVM();
  auto result = run_guest("exits", {"--cmdline", "seconds=1", "--report-timing"});
  EXPECT_EQ(result.status, 0) << describe(result);
  std::smatch match;
  std::regex average("exits: average ([0-9]+) exits/s");
  ASSERT_TRUE(std::regex_search(result.output, match, average)) << describe(result);
  EXPECT_GT(std::stoull(match[1]), 0u) << describe(result);
  EXPECT_NE(result.errors.find("vmhive: timing:"), std::string::npos) << describe(result);
}

}  // namespace
}  // namespace vmhive::testing
