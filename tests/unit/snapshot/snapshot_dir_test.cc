// The snapshot directory: its files are created 0600 under a 0700 directory,
// appear whole or not at all, are never written or read through a link
// planted in the directory, and load back checked against each other.
#include "snapshot/snapshot_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/fd_io.h"
#include "file_contents.h"
#include "temp_dir.h"

namespace vmhive::snapshot {
namespace {

using testing::file_contents;
using testing::TempDir;

MachineState small_machine(uint64_t memory_file_size) {
  MachineState state;
  state.description.memory_size = 16ull << 20;
  state.description.vcpu_count = 1;
  state.description.backend = "pvm";
  state.description.cpu_template = "pvm";
  state.description.memory_file_size = memory_file_size;
  kvm_cpuid_entry2 leaf{};
  leaf.function = 1;
  state.description.cpuid.push_back(leaf);
  state.vcpus.resize(1);
  state.vm.pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
  state.vm.pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
  state.vm.ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
  state.uart.ier = 5;
  return state;
}

mode_t mode_of(const std::string& path) {
  struct stat info {};
  EXPECT_EQ(::lstat(path.c_str(), &info), 0) << path;
  return info.st_mode & 07777;
}

class SnapshotDirTest : public ::testing::Test {
 protected:
  // A complete snapshot with a memory file of `memory_bytes` zero bytes.
  void write_snapshot(const std::string& path, uint64_t memory_bytes = 8192) {
    auto dir = SnapshotDir::create(path);
    ASSERT_TRUE(dir.ok()) << dir.error().message;
    auto memory = dir->create_file(SnapshotDir::kMemoryName);
    ASSERT_TRUE(memory.ok()) << memory.error().message;
    ASSERT_EQ(::ftruncate(memory->fd(), static_cast<off_t>(memory_bytes)), 0);
    ASSERT_TRUE(memory->commit().ok());
    ASSERT_TRUE(dir->write_state(small_machine(memory_bytes)).ok());
  }
  std::string load_error(const std::string& path) {
    auto dir = SnapshotDir::open(path);
    if (!dir.ok()) return dir.error().message;
    auto loaded = dir->load();
    return loaded.ok() ? std::string("(loaded)") : loaded.error().message;
  }

  TempDir temp_;
};

TEST_F(SnapshotDirTest, WritesPrivateFilesAndLoadsThemBack) {
  const std::string path = temp_.file("snap");
  write_snapshot(path);
  EXPECT_EQ(mode_of(path), 0700u);
  EXPECT_EQ(mode_of(path + "/state"), 0600u);
  EXPECT_EQ(mode_of(path + "/memory"), 0600u);
  for (const auto& entry : std::filesystem::directory_iterator(path))
    EXPECT_TRUE(entry.path().filename() == "state" || entry.path().filename() == "memory") << entry.path();

  auto dir = SnapshotDir::open(path);
  ASSERT_TRUE(dir.ok()) << dir.error().message;
  EXPECT_EQ(dir->path(), std::filesystem::canonical(path).string());
  auto loaded = dir->load();
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->state.uart.ier, 5);
  struct stat memory {};
  ASSERT_EQ(::fstat(loaded->memory.get(), &memory), 0);
  EXPECT_EQ(memory.st_size, 8192);
}

TEST_F(SnapshotDirTest, NamesItsFiles) {
  EXPECT_EQ(SnapshotDir::device_file_name(3), "disk-3");
  EXPECT_EQ(SnapshotDir::overlay_path("/o", "clone-2", 1), "/o/clone-2-disk-1.overlay");
  auto dir = SnapshotDir::create(temp_.file("snap"));
  ASSERT_TRUE(dir.ok());
  const auto context = dir->save_context(2);
  EXPECT_EQ(context.file_name, "disk-2");
  EXPECT_EQ(context.snapshot_fd, dir->fd());
}

TEST_F(SnapshotDirTest, ANewSnapshotRemovesTheOldStateFirst) {
  const std::string path = temp_.file("snap");
  write_snapshot(path);
  auto again = SnapshotDir::create(path);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_FALSE(std::filesystem::exists(path + "/state")) << "until the new one is complete, no state file";
  EXPECT_NE(load_error(path).find("state"), std::string::npos);
}

TEST_F(SnapshotDirTest, PlantedLinksAreNeverFollowed) {
  const std::string path = temp_.file("snap");
  ASSERT_EQ(::mkdir(path.c_str(), 0700), 0);
  const std::string victim = temp_.file("victim");
  std::ofstream(victim) << "precious";
  // Links where a writer used to put its temporary files, and at the final names.
  for (const char* name : {"memory.tmp", "state.tmp", "disk-0.tmp", "memory", "disk-0"})
    ASSERT_EQ(::symlink(victim.c_str(), (path + "/" + name).c_str()), 0);
  write_snapshot(path);
  auto dir = SnapshotDir::open(path);
  ASSERT_TRUE(dir.ok());
  auto disk = dir->create_file("disk-0");
  ASSERT_TRUE(disk.ok());
  ASSERT_TRUE(write_fully(disk->fd(), std::string_view("disk")).ok());
  ASSERT_TRUE(disk->commit().ok());
  EXPECT_EQ(file_contents(victim), "precious");
  EXPECT_TRUE(std::filesystem::is_regular_file(std::filesystem::symlink_status(path + "/memory")));
  EXPECT_TRUE(std::filesystem::is_regular_file(std::filesystem::symlink_status(path + "/disk-0")));
}

TEST_F(SnapshotDirTest, ADirectoryThatIsALinkIsRefused) {
  const std::string real = temp_.file("real");
  write_snapshot(real);
  const std::string link = temp_.file("link");
  ASSERT_EQ(::symlink(real.c_str(), link.c_str()), 0);
  EXPECT_NE(load_error(link).find("symbolic link"), std::string::npos) << load_error(link);
  auto created = SnapshotDir::create(link);
  ASSERT_FALSE(created.ok());
  EXPECT_NE(created.error().message.find("symbolic link"), std::string::npos) << created.error().message;
}

TEST_F(SnapshotDirTest, LoadingRefusesLinksAndMismatches) {
  const std::string path = temp_.file("snap");
  write_snapshot(path);
  // The memory file replaced by a link to a file of the right size.
  const std::string elsewhere = temp_.file("elsewhere");
  ASSERT_EQ(::truncate((path + "/memory").c_str(), 8192), 0);
  std::filesystem::copy_file(path + "/memory", elsewhere);
  ASSERT_EQ(::unlink((path + "/memory").c_str()), 0);
  ASSERT_EQ(::symlink(elsewhere.c_str(), (path + "/memory").c_str()), 0);
  EXPECT_NE(load_error(path).find("memory"), std::string::npos) << load_error(path);
  EXPECT_NE(load_error(path), "(loaded)");

  // A memory file of the wrong size.
  ASSERT_EQ(::unlink((path + "/memory").c_str()), 0);
  std::filesystem::copy_file(elsewhere, path + "/memory");
  EXPECT_EQ(load_error(path), "(loaded)");
  ASSERT_EQ(::truncate((path + "/memory").c_str(), 4096), 0);
  EXPECT_NE(load_error(path).find("memory file is 4096 bytes, the state file says 8192"), std::string::npos)
      << load_error(path);

  // A state file that is a directory, or damaged.
  ASSERT_EQ(::truncate((path + "/memory").c_str(), 8192), 0);
  std::string state = file_contents(path + "/state");
  state[40] ^= 1;
  std::ofstream(path + "/state", std::ios::binary | std::ios::trunc) << state;
  EXPECT_NE(load_error(path).find("checksum mismatch"), std::string::npos) << load_error(path);
  ASSERT_EQ(::unlink((path + "/state").c_str()), 0);
  ASSERT_EQ(::mkdir((path + "/state").c_str(), 0700), 0);
  EXPECT_NE(load_error(path).find("not a regular file"), std::string::npos) << load_error(path);
}

TEST_F(SnapshotDirTest, AnUncommittedFileLeavesNothingBehind) {
  auto dir = SnapshotDir::create(temp_.file("snap"));
  ASSERT_TRUE(dir.ok());
  {
    auto file = dir->create_file("disk-0");
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE(write_fully(file->fd(), std::string_view("half")).ok());
  }
  EXPECT_TRUE(std::filesystem::is_empty(temp_.file("snap")));
}

}  // namespace
}  // namespace vmhive::snapshot
