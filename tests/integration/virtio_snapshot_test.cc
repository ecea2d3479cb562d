// Snapshots of VMs with virtio devices, through the `disk` test guest in
// mode=serve: it waits at the console and writes (w<seed>x) or verifies
// (v<seed>x) a pattern over the disk's first 256 sectors, so a test can take
// a snapshot between two commands and check what each restore or clone sees
// on its disk. (virtio-net restores are in net_guest_test.cc.)
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "file_contents.h"
#include "temp_dir.h"
#include "vm_process.h"

namespace vmhive::testing {
namespace {

using namespace std::chrono_literals;

bool write_seed(VmProcess& vm, unsigned seed) {
  vm.write_input("w" + std::to_string(seed) + "x");
  return vm.wait_for_output("disk: wrote seed " + std::to_string(seed) + "\n", 60s);
}

bool verify_seed(VmProcess& vm, unsigned seed) {
  vm.write_input("v" + std::to_string(seed) + "x");
  return vm.wait_for_output("disk: verified seed " + std::to_string(seed) + "\n", 60s);
}

class VirtioSnapshot : public ::testing::Test {
 protected:
  void SetUp() override {
    VMHIVE_REQUIRE_KVM();
    std::ofstream(image_).close();
    ASSERT_EQ(::truncate(image_.c_str(), 8 << 20), 0);
  }

  // Boots the disk guest on `disk` (and virtio-rng), writes seed 5 and
  // snapshots it; the original runs on.
  VmProcess boot_write_and_snapshot(const std::string& disk) {
    VmProcess vm = VmProcess::start({"run", "--kernel", guest_path("disk"), "--disk", disk, "--rng", "--control",
                                     control_, "--cmdline", "mode=serve"});
    EXPECT_TRUE(vm.wait_for_output("disk: serving", 30s)) << vm.output() << vm.errors();
    EXPECT_TRUE(write_seed(vm, 5)) << vm.output();
    auto snapshot = run_vmhive({"snapshot", "--control", control_, snapshot_dir()}, 60s);
    EXPECT_EQ(snapshot.status, 0) << describe(snapshot);
    return vm;
  }
  std::string snapshot_dir() const { return temp_.file("snapshot"); }

  TempDir temp_;
  std::string image_ = temp_.file("disk.img");
  std::string control_ = temp_.file("control.sock");
};

// Data written before the snapshot reads back after a restore, though the
// original VM overwrote it afterwards; the restore's own writes go to an
// overlay, never to the snapshot's copy of the disk.
TEST_F(VirtioSnapshot, DiskWritesBeforeTheSnapshotReadBackAfterRestore) {
  VmProcess original = boot_write_and_snapshot(image_);
  ASSERT_TRUE(write_seed(original, 6)) << original.output();
  original.write_input("q");
  ASSERT_EQ(original.wait(30s), 0) << original.errors();
  const std::string frozen = file_contents(snapshot_dir() + "/disk-0");
  ASSERT_EQ(frozen.size(), 8u << 20) << "the snapshot holds a copy of the disk";

  VmProcess restored = VmProcess::start({"restore", snapshot_dir()});
  EXPECT_TRUE(verify_seed(restored, 5)) << restored.output() << restored.errors();
  EXPECT_EQ(restored.output().find("disk: serving"), std::string::npos) << "the guest started again";
  EXPECT_TRUE(write_seed(restored, 8)) << restored.output();
  EXPECT_TRUE(verify_seed(restored, 8)) << restored.output();
  restored.write_input("q");
  EXPECT_EQ(restored.wait(30s), 0) << restored.errors();

  EXPECT_TRUE(file_contents(snapshot_dir() + "/disk-0") == frozen) << "a restore wrote to the snapshot's disk";
  // The original's own disk has what it wrote last.
  VmProcess again = VmProcess::start({"run", "--kernel", guest_path("disk"), "--disk", image_, "--cmdline",
                                      "mode=serve"});
  ASSERT_TRUE(again.wait_for_output("disk: serving", 30s)) << again.errors();
  EXPECT_TRUE(verify_seed(again, 6)) << again.output();
  again.write_input("q");
  EXPECT_EQ(again.wait(30s), 0);
}

// Every clone starts from the snapshot's disk and writes only its own overlay:
// 100 clones each write their own seed, then each reads back its own.
TEST_F(VirtioSnapshot, HundredClonesHavePrivateDisks) {
  VmProcess original = boot_write_and_snapshot(image_ + ",overlay=" + temp_.file("original.overlay"));
  original.write_input("q");
  ASSERT_EQ(original.wait(30s), 0) << original.errors();
  const std::string base_before = file_contents(image_);
  const std::string frozen = file_contents(snapshot_dir() + "/disk-0");
  const std::string memory = file_contents(snapshot_dir() + "/memory");

  constexpr unsigned kClones = 100;
  std::vector<VmProcess> clones;
  clones.reserve(kClones);
  for (unsigned i = 0; i < kClones; ++i) clones.push_back(VmProcess::start({"restore", snapshot_dir()}));
  for (unsigned i = 0; i < kClones; ++i) clones[i].write_input("v5xw" + std::to_string(100 + i) + "x");
  for (unsigned i = 0; i < kClones; ++i) {
    ASSERT_TRUE(clones[i].wait_for_output("disk: wrote seed " + std::to_string(100 + i) + "\n", 120s))
        << "clone " << i << ": " << clones[i].output() << clones[i].errors();
    EXPECT_NE(clones[i].output().find("disk: verified seed 5\n"), std::string::npos) << clones[i].output();
  }
  for (unsigned i = 0; i < kClones; ++i) clones[i].write_input("v" + std::to_string(100 + i) + "xq");
  for (unsigned i = 0; i < kClones; ++i) {
    EXPECT_EQ(clones[i].wait(120s), 0) << clones[i].errors();
    EXPECT_NE(clones[i].output().find("disk: verified seed " + std::to_string(100 + i) + "\n"), std::string::npos)
        << "clone " << i << ": " << clones[i].output();
  }
  EXPECT_TRUE(file_contents(image_) == base_before) << "a clone wrote to the base image";
  EXPECT_TRUE(file_contents(snapshot_dir() + "/disk-0") == frozen) << "a clone wrote to the snapshot's disk";
  EXPECT_TRUE(file_contents(snapshot_dir() + "/memory") == memory) << "a clone wrote to the memory file";
  std::vector<std::string> left;
  for (const auto& entry : std::filesystem::directory_iterator(snapshot_dir())) left.push_back(entry.path().filename());
  EXPECT_EQ(left.size(), 3u) << "unnamed overlays stay unnamed";
}

// `vmhive clone --overlay-dir` keeps each clone's overlay under a name of its
// own, and a restore refuses to reuse one (it would hold writes the snapshot's
// guest never made).
TEST_F(VirtioSnapshot, CloneOverlaysCanBeKeptAndAreNotReused) {
  VmProcess original = boot_write_and_snapshot(image_);
  original.write_input("q");
  ASSERT_EQ(original.wait(30s), 0);
  const std::string overlays = temp_.file("overlays");
  ASSERT_EQ(::mkdir(overlays.c_str(), 0755), 0);
  VmProcess clones = VmProcess::start({"clone", snapshot_dir(), "--count", "3", "--overlay-dir", overlays,
                                       "--control-dir", temp_.file("controls")});
  ASSERT_TRUE(clones.wait_for_output("clone-2 pid", 30s)) << clones.output() << clones.errors();
  for (int i = 0; i < 3; ++i) {
    const std::string overlay = overlays + "/clone-" + std::to_string(i) + "-disk-0.overlay";
    bool present = false;
    for (int attempt = 0; attempt < 100 && !present; ++attempt) {
      present = ::access(overlay.c_str(), F_OK) == 0;
      if (!present) std::this_thread::sleep_for(100ms);
    }
    EXPECT_TRUE(present) << overlay;
  }
  clones.send_signal(SIGTERM);
  clones.wait(60s);
  auto reused = run_vmhive({"restore", snapshot_dir(), "--overlay-dir", overlays, "--overlay-prefix", "clone-1"}, 30s);
  EXPECT_EQ(reused.status, 1) << describe(reused);
  EXPECT_EQ(lines_of(reused.errors).size(), 1u) << reused.errors;
  EXPECT_NE(reused.errors.find("already exists"), std::string::npos) << reused.errors;
}

// A read-only disk is not copied: the snapshot names it, and a restore
// refuses it once it has changed.
TEST_F(VirtioSnapshot, ASharedReadOnlyDiskThatChangedIsRefused) {
  ASSERT_EQ(run_guest("disk", {"--disk", image_, "--cmdline", "mode=write seed=5"}).status, 0);
  VmProcess vm = VmProcess::start({"run", "--kernel", guest_path("disk"), "--disk", image_ + ",readonly",
                                   "--control", control_, "--cmdline", "mode=serve"});
  ASSERT_TRUE(vm.wait_for_output("disk: serving", 30s)) << vm.errors();
  auto snapshot = run_vmhive({"snapshot", "--control", control_, "--stop", snapshot_dir()}, 60s);
  ASSERT_EQ(snapshot.status, 0) << describe(snapshot);
  EXPECT_EQ(vm.wait(30s), 0);
  EXPECT_NE(::access((snapshot_dir() + "/disk-0").c_str(), F_OK), 0) << "a read-only disk was copied";

  // The snapshot names the image, but opens it only where the operator names it too.
  auto unnamed = run_vmhive({"restore", snapshot_dir()}, 30s);
  EXPECT_EQ(unnamed.status, 1) << describe(unnamed);
  EXPECT_EQ(lines_of(unnamed.errors).size(), 1u) << unnamed.errors;
  EXPECT_NE(unnamed.errors.find("give it with --disk"), std::string::npos) << unnamed.errors;

  VmProcess restored = VmProcess::start({"restore", snapshot_dir(), "--disk", image_});
  EXPECT_TRUE(verify_seed(restored, 5)) << restored.output() << restored.errors();
  restored.write_input("q");
  EXPECT_EQ(restored.wait(30s), 0);

  ASSERT_EQ(::truncate(image_.c_str(), 4 << 20), 0);
  auto refused = run_vmhive({"restore", snapshot_dir(), "--disk", image_}, 30s);
  EXPECT_EQ(refused.status, 1) << describe(refused);
  EXPECT_EQ(lines_of(refused.errors).size(), 1u) << refused.errors;
  EXPECT_NE(refused.errors.find("has changed since the snapshot"), std::string::npos) << refused.errors;
  EXPECT_EQ(refused.output, "");
}

TEST_F(VirtioSnapshot, AMissingDiskCopyIsOneClearLine) {
  VmProcess original = boot_write_and_snapshot(image_);
  original.write_input("q");
  ASSERT_EQ(original.wait(30s), 0);
  ASSERT_EQ(::unlink((snapshot_dir() + "/disk-0").c_str()), 0);
  auto refused = run_vmhive({"restore", snapshot_dir()}, 30s);
  EXPECT_EQ(refused.status, 1) << describe(refused);
  EXPECT_EQ(lines_of(refused.errors).size(), 1u) << refused.errors;
  EXPECT_NE(refused.errors.find("disk-0"), std::string::npos) << refused.errors;
  EXPECT_EQ(refused.output, "");
}

}  // namespace
}  // namespace vmhive::testing
