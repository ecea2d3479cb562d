// virtio over PCI through a real guest driver: the `virtio` test guest finds
// virtio-rng by PCI enumeration (ports 0xCF8/0xCFC), maps its BAR, negotiates,
// sets up a queue and reads entropy; with bad=<case> it first writes one
// malformed ring, and vmhive must flag the device as needing reset, keep
// running, and let the reset device work again.
#include <gtest/gtest.h>

#include "vm_process.h"

namespace vmhive::testing {
namespace {

TEST(VirtioGuest, ReadsEntropyFromVirtioRng) {
  VMHIVE_REQUIRE_KVM();
  auto result = run_guest("virtio", {"--rng"});
  EXPECT_EQ(result.status, 0) << describe(result);
  EXPECT_TRUE(has_line(result, "virtio: rng in slot 1")) << describe(result);
  EXPECT_TRUE(has_line(result, "virtio: rng ok, 2 x 64 bytes")) << describe(result);
  EXPECT_EQ(result.errors, "") << describe(result);
}

TEST(VirtioGuest, WithoutRngThereIsNoDevice) {
  VMHIVE_REQUIRE_KVM();
  auto result = run_guest("virtio");
  EXPECT_EQ(result.status, 5) << describe(result);
  EXPECT_TRUE(has_line(result, "virtio: no virtio-rng device")) << describe(result);
}

TEST(VirtioGuest, AcpiDescribesPciOnlyWhenThereIsADevice) {
  VMHIVE_REQUIRE_KVM();
  auto with_pci = run_guest("memsize", {"--rng"});
  EXPECT_TRUE(has_line(with_pci, "memsize: acpi rsdp at 0xe0000, 3 tables")) << "FACP, APIC, MCFG\n"
                                                                             << describe(with_pci);
  auto without = run_guest("memsize");
  EXPECT_TRUE(has_line(without, "memsize: acpi rsdp at 0xe0000, 2 tables")) << describe(without);
}

class HostileRing : public ::testing::TestWithParam<const char*> {};

TEST_P(HostileRing, DeviceNeedsResetAndTheVmmSurvives) {
  VMHIVE_REQUIRE_KVM();
  const std::string bad = GetParam();
  auto result = run_guest("virtio", {"--rng", "--cmdline", "bad=" + bad});
  EXPECT_EQ(result.status, 0) << describe(result);
  EXPECT_TRUE(has_line(result, "virtio: device needs reset after bad=" + bad + " (1 times)")) << describe(result);
  EXPECT_TRUE(has_line(result, "virtio: rng ok, 2 x 64 bytes")) << "the reset device works again\n"
                                                                 << describe(result);
  EXPECT_NE(result.errors.find("vmhive: virtio-rng: queue 0: "), std::string::npos) << describe(result);
  EXPECT_NE(result.errors.find("the device needs a reset"), std::string::npos) << describe(result);
}

// A guest that breaks and resets its device 2,000 times: the VMM's stderr
// gets a bounded number of lines, the last saying how many were held back.
TEST(HostileRingFlood, TheVmmsLogStaysBounded) {
  VMHIVE_REQUIRE_KVM();
  auto result = run_guest("virtio", {"--rng", "--cmdline", "bad=zero-length repeat=2000"}, std::chrono::seconds(120));
  EXPECT_EQ(result.status, 0) << describe(result);
  EXPECT_TRUE(has_line(result, "virtio: device needs reset after bad=zero-length (2000 times)")) << describe(result);
  const auto lines = lines_of(result.errors);
  EXPECT_GE(lines.size(), 1u);
  EXPECT_LE(lines.size(), 12u) << "2,000 failures, a bounded log:\n" << result.errors;
  EXPECT_NE(result.errors.find("lines held back"), std::string::npos) << result.errors;
}

INSTANTIATE_TEST_SUITE_P(Cases, HostileRing,
                         ::testing::Values("loop", "next-outside-table", "buffer-outside-ram", "zero-length",
                                           "huge-length", "readable-after-writable", "indirect-not-negotiated",
                                           "head-outside-table", "avail-index-ahead", "ring-outside-ram"),
                         [](const auto& param_info) {
                           std::string name = param_info.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace vmhive::testing
