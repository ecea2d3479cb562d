#include "host/cpu_cgroup.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "host/cpu_pinning.h"

namespace vmhive::host {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

TEST(CpuCgroup, PolicyBecomesSharesAndQuota) {
  EXPECT_EQ(CpuCgroup::v1_shares(100), 1024u);
  EXPECT_EQ(CpuCgroup::v1_shares(300), 3072u);
  EXPECT_EQ(CpuCgroup::v1_shares(1), 10u);
  EXPECT_EQ(CpuCgroup::quota_us(50), 50'000u);
  EXPECT_EQ(CpuCgroup::quota_us(200), 200'000u);
  EXPECT_EQ(CpuCgroup::name_for("web-1", 42), "web-1-42");
  EXPECT_EQ(CpuCgroup::name_for("", 42), "vm-42");
}

TEST(CpuCgroup, RefusesNamesThatArePaths) {
  EXPECT_FALSE(CpuCgroup::place(CpuPolicy{}, "../escape").ok());
  EXPECT_FALSE(CpuCgroup::place(CpuPolicy{}, "").ok());
  EXPECT_FALSE(CpuCgroup::place(CpuPolicy{}, "..").ok());
}

// In a child process, so the test runner itself never changes cgroup.
TEST(CpuCgroup, PlacesTheProcessWithItsWeightAndCapAndTakesItBack) {
  if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED LOUDLY: cgroups need root";
  if (!std::filesystem::exists("/sys/fs/cgroup/cpu/cpu.shares") &&
      read_text("/sys/fs/cgroup/cgroup.controllers").find("cpu") == std::string::npos)
    GTEST_SKIP() << "SKIPPED LOUDLY: this host has no cpu cgroup controller";
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int failures = 0;
    {
      CpuPolicy policy;
      policy.weight = 300;
      policy.cap_percent = 50;
      auto placed = CpuCgroup::place(policy, CpuCgroup::name_for("unit-test", ::getpid()));
      if (!placed.ok()) {
        std::fprintf(stderr, "place: %s\n", placed.error().message.c_str());
        ::_exit(10);
      }
      const std::string path = placed->path();
      const std::string mine = read_text("/proc/self/cgroup");
      if (mine.find("vmhive/unit-test-" + std::to_string(::getpid())) == std::string::npos) failures |= 1;
      if (placed->version() == CpuCgroup::Version::kV1) {
        if (std::stoul(read_text(path + "/cpu.shares")) != 3072) failures |= 2;
        if (std::stol(read_text(path + "/cpu.cfs_quota_us")) != 50'000) failures |= 4;
      } else {
        if (std::stoul(read_text(path + "/cpu.weight")) != 300) failures |= 2;
        if (read_text(path + "/cpu.max").rfind("50000 100000", 0) != 0) failures |= 4;
      }
      if (!std::filesystem::exists(path)) failures |= 8;
    }
    const std::string mine = read_text("/proc/self/cgroup");
    if (mine.find("vmhive/unit-test") != std::string::npos) failures |= 16;
    ::_exit(failures);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "bits: 1 not moved in, 2 weight, 4 cap, 8 no directory, 16 not moved back";
  for (const char* mount : {"/sys/fs/cgroup/cpu/vmhive", "/sys/fs/cgroup/vmhive"}) {
    const std::string gone = std::string(mount) + "/unit-test-" + std::to_string(child);
    EXPECT_FALSE(std::filesystem::exists(gone)) << gone << " was left behind";
  }
}

bool have_cpu_cgroups() {
  return std::filesystem::exists("/sys/fs/cgroup/cpu/cpu.shares") ||
         read_text("/sys/fs/cgroup/cgroup.controllers").find("cpu") != std::string::npos;
}

// The cgroup every thread of this process is in, or "" if they differ.
std::string cgroup_of_every_thread() {
  std::string common;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    const std::string text = read_text(task.path().string() + "/cgroup");
    const size_t at = text.find("vmhive/");
    const std::string here = at == std::string::npos ? "outside" : text.substr(at, text.find('\n', at) - at);
    if (!common.empty() && common != here) return "";
    common = here;
  }
  return common;
}

// Runs `body` in a child process (so the test runner never changes cgroup)
// and returns its exit status (the failure bits it reports), or -1; then
// checks no cgroup "<prefix>-<child pid>" was left behind.
int in_child_leaving_no_cgroup(const std::string& prefix, const std::function<int()>& body) {
  const pid_t child = ::fork();
  if (child < 0) return -1;
  if (child == 0) ::_exit(body());
  int status = 0;
  if (::waitpid(child, &status, 0) != child || !WIFEXITED(status)) return -1;
  for (const char* mount : {"/sys/fs/cgroup/cpu/vmhive", "/sys/fs/cgroup/vmhive"}) {
    const std::string gone = std::string(mount) + "/" + prefix + "-" + std::to_string(child);
    EXPECT_FALSE(std::filesystem::exists(gone)) << gone << " was left behind";
  }
  return WEXITSTATUS(status);
}

// As a VM starts: a thread started while the move is under way and one
// started after it both end up in the cgroup, as does the starting thread.
TEST(CgroupPlacement, MovesEveryThreadInWhileTheProcessGoesOn) {
  if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED LOUDLY: cgroups need root";
  if (!have_cpu_cgroups()) GTEST_SKIP() << "SKIPPED LOUDLY: this host has no cpu cgroup controller";
  const int failures = in_child_leaving_no_cgroup("placement-test", [] {
    int bits = 0;
    {
      std::atomic<bool> mover_confined{false};
      const std::string id = CpuCgroup::name_for("placement-test", ::getpid());
      CgroupPlacement placing(CpuPolicy{}, id, [&mover_confined]() -> Result<void> {
        mover_confined = true;
        return {};
      });
      if (!placing.prepared().ok()) return 16;
      std::atomic<bool> stop{false};
      std::thread early([&stop] {
        while (!stop) std::this_thread::yield();
      });
      if (!placing.finish().ok()) bits |= 1;
      std::thread late([&stop] {
        while (!stop) std::this_thread::yield();
      });
      if (cgroup_of_every_thread() != "vmhive/" + id) bits |= 2;
      if (!mover_confined) bits |= 4;
      stop = true;
      early.join();
      late.join();
    }
    if (read_text("/proc/self/cgroup").find("vmhive/placement-test") != std::string::npos) bits |= 8;
    return bits;
  });
  EXPECT_EQ(failures, 0) << "bits: 1 move failed, 2 a thread outside, 4 mover not confined, 8 not moved back, "
                            "16 not prepared";
}

// A mover that cannot confine itself moves nothing; the cgroup it made goes.
TEST(CgroupPlacement, AMoverThatCannotBeConfinedLeavesTheProcessWhereItWas) {
  if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED LOUDLY: cgroups need root";
  if (!have_cpu_cgroups()) GTEST_SKIP() << "SKIPPED LOUDLY: this host has no cpu cgroup controller";
  const int failures = in_child_leaving_no_cgroup("unconfined-test", [] {
    int bits = 0;
    CgroupPlacement placing(CpuPolicy{}, CpuCgroup::name_for("unconfined-test", ::getpid()),
                            []() -> Result<void> { return make_error("no filter for you"); });
    if (!placing.prepared().ok()) bits |= 1;
    const auto moved = placing.finish();
    if (moved.ok() || moved.error().message.find("no filter for you") == std::string::npos) bits |= 2;
    if (read_text("/proc/self/cgroup").find("vmhive/unconfined-test") != std::string::npos) bits |= 4;
    return bits;
  });
  EXPECT_EQ(failures, 0) << "bits: 1 not prepared, 2 no error, 4 moved anyway";
}

TEST(CgroupPlacement, ANameThatIsAPathIsRefusedBeforeAnythingMoves) {
  CgroupPlacement placing(CpuPolicy{}, "../escape", nullptr);
  EXPECT_FALSE(placing.prepared().ok());
  EXPECT_FALSE(placing.finish().ok());
}

TEST(CpuPinning, PinsTheCallingThreadOrSaysWhyNot) {
  EXPECT_TRUE(pin_calling_thread(0).ok());
  cpu_set_t set;
  ASSERT_EQ(::sched_getaffinity(0, sizeof set, &set), 0);
  EXPECT_EQ(CPU_COUNT(&set), 1);
  EXPECT_TRUE(CPU_ISSET(0, &set));
  EXPECT_FALSE(pin_calling_thread(100000).ok());
  EXPECT_FALSE(pin_calling_thread(1000).ok());  // no such CPU here
  CPU_ZERO(&set);
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) CPU_SET(cpu, &set);
  ::sched_setaffinity(0, sizeof set, &set);
}

}  // namespace
}  // namespace vmhive::host
