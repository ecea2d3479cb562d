// virtio-blk through a real guest driver (the `disk` test guest): data
// written and flushed is there in the next VM, also after SIGKILL of the VMM;
// an overlay takes every write and leaves its base byte for byte as it was;
// a read-only disk refuses writes; bad --disk options and a base that changed
// under its overlay are one clear error before the guest starts.
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "temp_dir.h"
#include "vm_process.h"

namespace vmhive::testing {
namespace {

using namespace std::chrono_literals;

class DiskGuest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_.path();
    image_ = temp_.file("disk.img");
    overlay_ = temp_.file("overlay.img");
    std::ofstream(image_, std::ios::binary).write(std::string(8 << 20, '\0').data(), 8 << 20);
  }

  RunResult run_disk(const std::string& disk, const std::string& cmdline) {
    return run_guest("disk", {"--disk", disk, "--cmdline", cmdline});
  }
  std::string contents(const std::string& path) {
    std::string bytes(std::filesystem::file_size(path), '\0');
    std::ifstream(path, std::ios::binary).read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return bytes;
  }

  TempDir temp_;
  std::string dir_, image_, overlay_;
};

TEST_F(DiskGuest, DataSurvivesARestart) {
  VMHIVE_REQUIRE_KVM();
  auto written = run_disk(image_, "mode=write seed=3");
  EXPECT_EQ(written.status, 0) << describe(written);
  EXPECT_TRUE(has_line(written, "disk: 16384 sectors")) << describe(written);
  EXPECT_TRUE(has_line(written, "disk: wrote and verified 256 sectors")) << describe(written);
  // The pattern is in the file: byte j of sector s is s*31 + j*7 + seed.
  const std::string bytes = contents(image_);
  EXPECT_EQ(static_cast<uint8_t>(bytes[0]), 3);
  EXPECT_EQ(static_cast<uint8_t>(bytes[512 * 2 + 1]), static_cast<uint8_t>(2 * 31 + 7 + 3));
  auto verified = run_disk(image_, "mode=verify seed=3");
  EXPECT_EQ(verified.status, 0) << describe(verified);
  EXPECT_TRUE(has_line(verified, "disk: verified 256 sectors")) << describe(verified);
  auto other = run_disk(image_, "mode=verify seed=4");
  EXPECT_EQ(other.status, 5) << "a different pattern must not verify\n" << describe(other);
}

TEST_F(DiskGuest, OverlayLeavesTheBaseUntouched) {
  VMHIVE_REQUIRE_KVM();
  ASSERT_EQ(run_disk(image_, "mode=write seed=1").status, 0);
  const std::string base_before = contents(image_);
  auto written = run_disk(image_ + ",overlay=" + overlay_, "mode=write seed=2");
  EXPECT_EQ(written.status, 0) << describe(written);
  EXPECT_TRUE(contents(image_) == base_before) << "the base changed";
  struct stat info {};
  ASSERT_EQ(::stat(overlay_.c_str(), &info), 0);
  EXPECT_LT(info.st_blocks * 512, 1 << 20) << "the overlay should hold only what was written";
  EXPECT_EQ(run_disk(image_ + ",overlay=" + overlay_, "mode=verify seed=2").status, 0);
  EXPECT_EQ(run_disk(image_, "mode=verify seed=1").status, 0) << "the base still has its own data";
}

TEST_F(DiskGuest, FlushedWritesSurviveSigkill) {
  VMHIVE_REQUIRE_KVM();
  for (const std::string& disk : {image_, image_ + ",overlay=" + overlay_}) {
    VmProcess vm = VmProcess::start(
        {"run", "--kernel", guest_path("disk"), "--disk", disk, "--cmdline", "mode=write seed=7 hold=1"});
    ASSERT_TRUE(vm.wait_for_output("disk: flushed, holding", 60s)) << vm.output() << vm.errors();
    vm.send_signal(SIGKILL);
    EXPECT_EQ(vm.wait(10s), 128 + SIGKILL);
    auto verified = run_disk(disk, "mode=verify seed=7");
    EXPECT_EQ(verified.status, 0) << disk << "\n" << describe(verified);
  }
}

// Many back-to-back requests, with the device thread sleeping between them,
// busy-polling, and switching between the two all the time: a notification
// lost in a hand-over would leave the guest waiting (it then reports failure).
TEST_F(DiskGuest, NoRequestIsLostBetweenPollingAndSleeping) {
  VMHIVE_REQUIRE_KVM();
  for (const char* poll : {"0", "1", "50"}) {
    auto result = run_guest("disk", {"--disk", image_, "--device-poll-us", poll, "--cmdline",
                                     "mode=bench kind=randread size=1 count=50000"});
    EXPECT_EQ(result.status, 0) << "--device-poll-us " << poll << "\n" << describe(result);
    EXPECT_TRUE(has_line(result, "bench: end")) << describe(result);
  }
}

TEST_F(DiskGuest, ReadOnlyDiskRefusesWrites) {
  VMHIVE_REQUIRE_KVM();
  auto result = run_disk(image_ + ",readonly", "mode=readonly");
  EXPECT_EQ(result.status, 0) << describe(result);
  EXPECT_TRUE(has_line(result, "disk: write refused")) << describe(result);
}

TEST_F(DiskGuest, BadDiskOptionsAreOneClearLine) {
  struct Case {
    std::vector<std::string> disk_args;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {{"--disk", dir_ + "/missing.img"}, "missing.img"},
      {{"--disk", dir_}, "is a directory"},
      {{"--disk", image_ + ",bogus"}, "unknown setting 'bogus'"},
      {{"--disk", ",readonly"}, "path is missing"},
      {{"--disk", image_ + ",overlay="}, "needs a file name"},
      {{"--disk", image_ + ",readonly,overlay=" + overlay_}, "cannot go together"},
      {{"--disk", image_ + ",readonly,readonly"}, "twice"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {"run", "--kernel", guest_path("disk")};
    args.insert(args.end(), c.disk_args.begin(), c.disk_args.end());
    auto result = run_vmhive(args, 30s);
    EXPECT_EQ(result.status, 1) << c.expected << "\n" << describe(result);
    auto lines = lines_of(result.errors);
    ASSERT_EQ(lines.size(), 1u) << describe(result);
    EXPECT_NE(lines[0].find(c.expected), std::string::npos) << lines[0];
    EXPECT_EQ(result.output, "");
  }
}

TEST_F(DiskGuest, ImagesThatCannotBeUsedAreOneClearLine) {
  VMHIVE_REQUIRE_KVM();
  std::ofstream(dir_ + "/odd.img") << "abc";
  auto odd = run_disk(dir_ + "/odd.img", "mode=verify");
  EXPECT_EQ(odd.status, 1) << describe(odd);
  EXPECT_NE(odd.errors.find("multiple of 512"), std::string::npos) << describe(odd);
  EXPECT_EQ(odd.output, "");

  ASSERT_EQ(run_disk(image_ + ",overlay=" + overlay_, "mode=write seed=1").status, 0);
  struct timeval times[2] = {{1000, 0}, {1000, 0}};  // the base "changes"
  ASSERT_EQ(::utimes(image_.c_str(), times), 0);
  auto stale = run_disk(image_ + ",overlay=" + overlay_, "mode=verify seed=1");
  EXPECT_EQ(stale.status, 1) << describe(stale);
  EXPECT_NE(stale.errors.find("has been modified"), std::string::npos) << describe(stale);
  EXPECT_EQ(lines_of(stale.errors).size(), 1u) << describe(stale);
  EXPECT_EQ(stale.output, "");

  std::ofstream(dir_ + "/foreign.img") << std::string(8192, 'x');
  auto foreign = run_disk(image_ + ",overlay=" + dir_ + "/foreign.img", "mode=verify");
  EXPECT_EQ(foreign.status, 1) << describe(foreign);
  EXPECT_NE(foreign.errors.find("not a vmhive overlay"), std::string::npos) << describe(foreign);
}

}  // namespace
}  // namespace vmhive::testing
