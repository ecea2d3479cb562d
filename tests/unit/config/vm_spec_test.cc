#include "config/vm_spec.h"

#include <fstream>

#include <gtest/gtest.h>

namespace vmhive::config {
namespace {

class RunOptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kernel_ = ::testing::TempDir() + "run-options-kernel";
    std::ofstream(kernel_) << "x";
    host_ = HostFacts{8ull << 30, ::testing::TempDir() + "no-such-guest-dir"};
  }
  VmSpec with_kernel() const {
    VmSpec options;
    options.kernel = kernel_;
    return options;
  }
  std::string kernel_;
  HostFacts host_;
};

TEST_F(RunOptionsTest, Defaults) {
  auto config = make_vm_config(with_kernel(), host_);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->memory_size, 256ull << 20);
  EXPECT_EQ(config->vcpu_count, 1u);
  EXPECT_EQ(config->cmdline, kDefaultLinuxCmdline);
  EXPECT_EQ(config->console, "stdio");
  EXPECT_EQ(config->initrd_path, "");
}

TEST_F(RunOptionsTest, SizesAndCounts) {
  auto options = with_kernel();
  options.mem = "3G";
  options.cpus = 4;
  options.cmdline = "";
  options.cmdline_given = true;
  auto config = make_vm_config(options, host_);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->memory_size, 3ull << 30);
  EXPECT_EQ(config->vcpu_count, 4u);
  EXPECT_EQ(config->cmdline, "");  // an explicitly empty command line stays empty
  options.mem = "512";  // a bare number is MiB
  EXPECT_EQ(make_vm_config(options, host_)->memory_size, 512ull << 20);
}

TEST_F(RunOptionsTest, BadMemory) {
  for (const char* mem : {"", "12X", "lots", "1M", "15M", "17001K", "9G", "-5"}) {
    auto options = with_kernel();
    options.mem = mem;
    auto config = make_vm_config(options, host_);
    ASSERT_FALSE(config.ok()) << mem;
    EXPECT_NE(config.error().message.find("--mem"), std::string::npos) << config.error().message;
  }
}

TEST_F(RunOptionsTest, MissingFilesAreNamed) {
  auto options = with_kernel();
  options.kernel = "/nonexistent/kernel";
  auto config = make_vm_config(options, host_);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().message.find("/nonexistent/kernel"), std::string::npos);

  options = with_kernel();
  options.initrd = "/nonexistent/initrd";
  config = make_vm_config(options, host_);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().message.find("/nonexistent/initrd"), std::string::npos);
}

TEST_F(RunOptionsTest, MissingDefaultGuestSaysHowToMakeIt) {
  auto config = make_vm_config(VmSpec{}, host_);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().message.find("prepare-linux-guest.sh"), std::string::npos) << config.error().message;
}

TEST_F(RunOptionsTest, DefaultGuestPathsComeFromTheHost) {
  host_.default_guest_dir = ::testing::TempDir() + "guest-dir";
  std::string mkdir = "mkdir -p " + host_.default_guest_dir;
  ASSERT_EQ(std::system(mkdir.c_str()), 0);
  std::ofstream(host_.default_guest_dir + "/vmlinux") << "x";
  std::ofstream(host_.default_guest_dir + "/initramfs.cpio") << "x";
  auto config = make_vm_config(VmSpec{}, host_);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->kernel_path, host_.default_guest_dir + "/vmlinux");
  EXPECT_EQ(config->initrd_path, host_.default_guest_dir + "/initramfs.cpio");
}

}  // namespace
}  // namespace vmhive::config
