// The stock Debian cloud kernel under vmhive, booted twice per run: with 2
// vCPUs (checking that Linux parsed our e820 map, ACPI tables and MADT, then
// that it reaches the initramfs's ready marker and runs a command) and with
// 1 vCPU (ready marker and command). On KVM-PVM hosts the guest's ring 0 is
// emulated ~4000x slower and each boot takes minutes; docs/pvm.md explains
// what vmhive does to get it through. See also docs/linux-guest.md.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>

#include <gtest/gtest.h>

#include "cli/run_options.h"
#include "vm_process.h"

namespace vmhive::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

bool host_is_pvm() { return ::access("/sys/module/kvm_pvm", F_OK) == 0; }

std::string e820_line(uint64_t start, uint64_t end_exclusive, const char* type) {
  char text[128];
  std::snprintf(text, sizeof text, "BIOS-e820: [mem 0x%016" PRIx64 "-0x%016" PRIx64 "] %s", start, end_exclusive - 1,
                type);
  return text;
}

std::string linux_dir_or_fail() {
  const std::string dir = linux_guest_dir();
  EXPECT_EQ(::access((dir + "/vmlinux").c_str(), R_OK), 0)
      << "no default Linux guest in " << dir << ": run scripts/prepare-linux-guest.sh " << dir;
  return dir;
}

// vmhive's default command line plus, on KVM-PVM, the documented speed
// trade-offs (no mitigations, no page zeroing, no KASLR, no audit) that keep two
// boots within CI's time; the guest's init skips the virtio modules (no virtio
// device yet, and each load is many seconds of emulated ring 0 on KVM-PVM).
VmProcess boot_linux(const std::string& dir, int cpus, const std::string& command) {
  return VmProcess::start({"run", "--kernel", dir + "/vmlinux", "--initrd", dir + "/initramfs.cpio", "--mem", "256M",
                           "--cpus", std::to_string(cpus), "--report-timing", "--cmdline",
                           std::string(cli::kDefaultLinuxCmdline) + (host_is_pvm() ? std::string(" ") + cli::kLinuxSpeedTradeoffs : "") +
                               " vmhive.modules=none vmhive.run=\"" + command + "\""});
}

// Waits for the ready marker, the command's output and the exit marker, then
// for vmhive to exit 0 (the guest powered off).
void expect_ready_command_and_power_off(VmProcess& vm, const std::string& expected_output, Clock::time_point start) {
  const auto ready_timeout = host_is_pvm() ? 1500s : 120s;
  bool ready = vm.wait_for_output("VMHIVE-READY", ready_timeout);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::fprintf(stderr, "[linux] %s after %.1f s\n", ready ? "VMHIVE-READY" : "no ready marker", seconds);
  ASSERT_TRUE(ready) << "console tail:\n"
                     << vm.output().substr(vm.output().size() > 4000 ? vm.output().size() - 4000 : 0) << "\nstderr:\n"
                     << vm.errors();
  EXPECT_TRUE(vm.wait_for_output(expected_output, 300s)) << vm.output().substr(vm.output().find("VMHIVE-READY"));
  EXPECT_TRUE(vm.wait_for_output("VMHIVE-EXIT 0", 300s)) << vm.output().substr(vm.output().find("VMHIVE-READY"));
  EXPECT_EQ(vm.wait(300s), 0) << vm.errors();
  std::fprintf(stderr, "[linux] %s", vm.errors().c_str());
}

TEST(LinuxGuest, TwoCpusParseOurTablesAndReachAShell) {
  VMHIVE_REQUIRE_KVM();
  const std::string dir = linux_dir_or_fail();
  const auto start = Clock::now();
  VmProcess vm = boot_linux(dir, 2, "echo cpus=$(grep -c ^processor /proc/cpuinfo) kernel=$(uname -r)");

  // The MADT's CPU count is announced late in setup_arch; the console shows it once ttyS0 registers.
  bool reached = vm.wait_for_output("smpboot: Allowing 2 CPUs", host_is_pvm() ? 600s : 60s);
  ASSERT_TRUE(reached) << vm.output() << "\nstderr:\n" << vm.errors();
  const std::string& console = vm.output();
  EXPECT_NE(console.find("Linux version"), std::string::npos);
  EXPECT_NE(console.find(e820_line(0, 0x9fc00, "usable")), std::string::npos);
  EXPECT_NE(console.find(e820_line(0x9fc00, 0x100000, "reserved")), std::string::npos);
  EXPECT_NE(console.find(e820_line(0x100000, 256ull << 20, "usable")), std::string::npos);
  EXPECT_NE(console.find("ACPI: RSDP 0x00000000000E0000"), std::string::npos);
  EXPECT_NE(console.find("ACPI: APIC 0x"), std::string::npos);
  EXPECT_NE(console.find("ACPI: FACP 0x"), std::string::npos);
  EXPECT_NE(console.find("ACPI: DSDT 0x"), std::string::npos);
  EXPECT_NE(console.find("Using ACPI (MADT) for SMP configuration information"), std::string::npos);
  EXPECT_NE(console.find("IOAPIC[0]: apic_id 2"), std::string::npos);
  EXPECT_NE(console.find("ACPI: INT_SRC_OVR (bus 0 bus_irq 0 global_irq 2"), std::string::npos);

  expect_ready_command_and_power_off(vm, "cpus=2 kernel=", start);
  EXPECT_NE(vm.output().find("smp: Brought up 1 node, 2 CPUs"), std::string::npos);
}

TEST(LinuxGuest, OneCpuReachesAShellAndRunsACommand) {
  VMHIVE_REQUIRE_KVM();
  const std::string dir = linux_dir_or_fail();
  const auto start = Clock::now();
  VmProcess vm = boot_linux(dir, 1, "uname -r; grep -c ^processor /proc/cpuinfo; echo VMHIVE-CMD-OK");
  expect_ready_command_and_power_off(vm, "VMHIVE-CMD-OK", start);
  EXPECT_NE(vm.output().find("\n1\r\n"), std::string::npos) << "one processor expected";
}

}  // namespace
}  // namespace vmhive::testing
