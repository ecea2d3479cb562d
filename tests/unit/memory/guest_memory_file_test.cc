// Guest RAM saved to a sparse file and mapped back copy-on-write, as
// snapshots and restores use it.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "memory/guest_memory.h"
#include "temp_dir.h"

namespace vmhive {
namespace {

using testing::TempDir;

TEST(GuestMemoryFile, SavesOnlyNonZeroPagesAndMapsThemBackPrivately) {
  TempDir temp;
  const std::vector<MemoryRegion> regions{{0, 1 << 20}, {4 << 20, 1 << 20}};
  auto memory = GuestMemory::create(regions);
  ASSERT_TRUE(memory.ok());
  ASSERT_TRUE(memory->write_obj<uint64_t>(0x3000, 0x1122334455667788ull).ok());
  ASSERT_TRUE(memory->write_obj<uint64_t>((4 << 20) + 0x10, 42).ok());
  ASSERT_TRUE(memory->write_obj<uint64_t>(0x5000, 0).ok());  // touched but zero: still a hole
  const std::string path = temp.file("memory");
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  auto written = memory->save_to_file(fd);
  ::close(fd);
  ASSERT_TRUE(written.ok()) << written.error().message;
  EXPECT_EQ(*written, 2u * 4096);
  struct stat status {};
  ASSERT_EQ(::stat(path.c_str(), &status), 0);
  EXPECT_EQ(status.st_size, 2 << 20);
  EXPECT_LE(status.st_blocks * 512, 64 * 1024) << "the file is not sparse";

  fd = ::open(path.c_str(), O_RDONLY);
  auto first = GuestMemory::map_file_private(regions, fd);
  auto second = GuestMemory::map_file_private(regions, fd);
  ::close(fd);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first->read_obj<uint64_t>(0x3000), 0x1122334455667788ull);
  EXPECT_EQ(*first->read_obj<uint64_t>((4 << 20) + 0x10), 42u);
  // Writes stay private to the mapping that made them.
  ASSERT_TRUE(first->write_obj<uint64_t>(0x3000, 7).ok());
  EXPECT_EQ(*second->read_obj<uint64_t>(0x3000), 0x1122334455667788ull);
  fd = ::open(path.c_str(), O_RDONLY);
  uint64_t on_disk = 0;
  ASSERT_EQ(::pread(fd, &on_disk, sizeof on_disk, 0x3000), static_cast<ssize_t>(sizeof on_disk));
  ::close(fd);
  EXPECT_EQ(on_disk, 0x1122334455667788ull);
}

TEST(GuestMemoryFile, RefusesAFileOfTheWrongSize) {
  TempDir temp;
  const std::string path = temp.file("memory");
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  ASSERT_EQ(::ftruncate(fd, 4096), 0);
  auto mapped = GuestMemory::map_file_private({{0, 1 << 20}}, fd);
  ::close(fd);
  ASSERT_FALSE(mapped.ok());
  EXPECT_NE(mapped.error().message.find("memory file is 4096 bytes, the snapshot's RAM is 1048576"), std::string::npos)
      << mapped.error().message;
}

}  // namespace
}  // namespace vmhive
