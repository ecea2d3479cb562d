// Disk images on real files: raw images (bad files refused, reads, writes,
// zeroing) and copy-on-write overlays (the base is never written, partial
// clusters are copied up, data survives a reopen after a flush, unflushed
// allocations do not, and an overlay whose base changed is refused); and the
// sparse copies snapshots freeze a disk into.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <vector>

#include "devices/virtio/block/disk_copy.h"
#include "devices/virtio/block/disk_image.h"
#include "devices/virtio/block/overlay_image.h"
#include "devices/virtio/block/raw_image.h"
#include "temp_dir.h"

namespace vmhive::virtio {
namespace {

DiskSpec spec(std::string path, bool read_only = false, std::string overlay = {}) {
  return DiskSpec{std::move(path), read_only, std::move(overlay)};
}

class DiskImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_.path();
    base_ = temp_.file("base.img");
    overlay_ = temp_.file("overlay.img");
    // 64 KiB base where byte i holds i % 251.
    std::vector<uint8_t> bytes(64 * 1024);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i % 251);
    std::ofstream(base_, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  std::vector<uint8_t> file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
  }
  std::vector<uint8_t> read(DiskImage& image, uint64_t offset, size_t length) {
    std::vector<uint8_t> data(length);
    auto result = image.read(offset, data);
    EXPECT_TRUE(result.ok()) << result.error().message;
    return data;
  }
  static uint8_t base_byte(uint64_t offset) { return static_cast<uint8_t>(offset % 251); }

  vmhive::testing::TempDir temp_;
  std::string dir_, base_, overlay_;
};

TEST_F(DiskImageTest, RefusesBadFiles) {
  auto missing = open_disk(spec(dir_ + "/nope.img"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("nope.img"), std::string::npos);
  EXPECT_FALSE(open_disk(spec(dir_)).ok()) << "a directory";
  std::ofstream(dir_ + "/odd.img") << "123";
  auto odd = open_disk(spec(dir_ + "/odd.img"));
  ASSERT_FALSE(odd.ok());
  EXPECT_NE(odd.error().message.find("multiple of 512"), std::string::npos);
  std::ofstream(dir_ + "/empty.img");
  EXPECT_FALSE(open_disk(spec(dir_ + "/empty.img")).ok());
  auto both = open_disk(spec(base_, true, overlay_));
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.error().message.find("readonly"), std::string::npos);
}

TEST_F(DiskImageTest, RawReadsWritesAndZeroes) {
  auto image = open_disk(spec(base_));
  ASSERT_TRUE(image.ok()) << image.error().message;
  EXPECT_EQ((*image)->size(), 64u * 1024);
  EXPECT_FALSE((*image)->serial().empty());
  EXPECT_LE((*image)->serial().size(), 20u);
  EXPECT_EQ(read(**image, 1000, 1)[0], base_byte(1000));
  const std::vector<uint8_t> data(512, 0xee);
  ASSERT_TRUE((*image)->write(4096, data).ok());
  ASSERT_TRUE((*image)->flush().ok());
  EXPECT_EQ(file_bytes(base_)[4096 + 511], 0xee);
  ASSERT_TRUE((*image)->zero(8192, 8192, true).ok());
  ASSERT_TRUE((*image)->zero(0, 512, false).ok());
  auto zeroed = read(**image, 8192, 8192);
  EXPECT_TRUE(std::all_of(zeroed.begin(), zeroed.end(), [](uint8_t b) { return b == 0; }));
  EXPECT_EQ(read(**image, 511, 1)[0], 0);
  EXPECT_EQ(read(**image, 16384, 1)[0], base_byte(16384));
}

TEST_F(DiskImageTest, ReadOnlyRawRefusesWrites) {
  auto image = open_disk(spec(base_, true));
  ASSERT_TRUE(image.ok());
  EXPECT_TRUE((*image)->read_only());
  const std::vector<uint8_t> data(512, 1);
  EXPECT_FALSE((*image)->write(0, data).ok());
  EXPECT_FALSE((*image)->zero(0, 512, true).ok());
  EXPECT_TRUE((*image)->flush().ok());
}

TEST_F(DiskImageTest, OverlayLeavesTheBaseUntouched) {
  const auto base_before = file_bytes(base_);
  auto image = open_disk(spec(base_, false, overlay_));
  ASSERT_TRUE(image.ok()) << image.error().message;
  auto* overlay = static_cast<OverlayImage*>(image->get());
  EXPECT_EQ(overlay->size(), 64u * 1024);
  EXPECT_EQ(read(*overlay, 5000, 1)[0], base_byte(5000)) << "unwritten: the base shows through";

  // 512 bytes inside cluster 1: the rest of the cluster is copied up.
  const std::vector<uint8_t> data(512, 0xab);
  ASSERT_TRUE(overlay->write(4096 + 1024, data).ok());
  EXPECT_EQ(overlay->allocated_clusters(), 1u);
  auto cluster = read(*overlay, 4096, 4096);
  EXPECT_EQ(cluster[0], base_byte(4096));
  EXPECT_EQ(cluster[1024], 0xab);
  EXPECT_EQ(cluster[1535], 0xab);
  EXPECT_EQ(cluster[1536], base_byte(4096 + 1536));
  // A read across base, overlay and base again.
  auto across = read(*overlay, 4000, 5000);
  EXPECT_EQ(across[0], base_byte(4000));
  EXPECT_EQ(across[4096 + 1024 - 4000], 0xab);
  EXPECT_EQ(across[4999], base_byte(8999));
  // Zeroing a range that spans partial clusters.
  ASSERT_TRUE(overlay->zero(10000, 10000, true).ok());
  EXPECT_EQ(read(*overlay, 9999, 1)[0], base_byte(9999));
  EXPECT_EQ(read(*overlay, 10000, 1)[0], 0);
  EXPECT_EQ(read(*overlay, 19999, 1)[0], 0);
  EXPECT_EQ(read(*overlay, 20000, 1)[0], base_byte(20000));
  ASSERT_TRUE(overlay->flush().ok());
  EXPECT_EQ(file_bytes(base_), base_before) << "the base was written";
  struct stat info {};
  ASSERT_EQ(::stat(overlay_.c_str(), &info), 0);
  EXPECT_LT(info.st_blocks * 512, 256 * 1024) << "the overlay is sparse";
}

TEST_F(DiskImageTest, FlushedOverlayWritesSurviveAReopen) {
  {
    auto image = open_disk(spec(base_, false, overlay_));
    ASSERT_TRUE(image.ok());
    const std::vector<uint8_t> data(4096, 0x5a);
    ASSERT_TRUE((*image)->write(8192, data).ok());
    ASSERT_TRUE((*image)->flush().ok());
    const std::vector<uint8_t> late(4096, 0x77);
    ASSERT_TRUE((*image)->write(32768, late).ok());  // never flushed: its allocation is not recorded
  }
  auto image = open_disk(spec(base_, false, overlay_));
  ASSERT_TRUE(image.ok()) << image.error().message;
  EXPECT_EQ(read(**image, 8192, 1)[0], 0x5a);
  EXPECT_EQ(read(**image, 12287, 1)[0], 0x5a);
  EXPECT_EQ(read(**image, 32768, 1)[0], base_byte(32768)) << "an unflushed write may be lost, never torn";
}

TEST_F(DiskImageTest, OverlayRefusesAChangedBase) {
  ASSERT_TRUE(open_disk(spec(base_, false, overlay_)).ok());
  // Touch the base: a newer modification time.
  struct timespec times[2] = {{0, UTIME_NOW}, {12345, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, base_.c_str(), times, 0), 0);
  auto reopened = open_disk(spec(base_, false, overlay_));
  ASSERT_FALSE(reopened.ok());
  EXPECT_NE(reopened.error().message.find("has been modified"), std::string::npos) << reopened.error().message;
}

TEST_F(DiskImageTest, OverlayRefusesForeignOrTruncatedFiles) {
  std::ofstream(overlay_) << std::string(8192, 'x');
  auto foreign = open_disk(spec(base_, false, overlay_));
  ASSERT_FALSE(foreign.ok());
  EXPECT_NE(foreign.error().message.find("not a vmhive overlay"), std::string::npos);
  std::filesystem::remove(overlay_);
  ASSERT_TRUE(open_disk(spec(base_, false, overlay_)).ok());
  ASSERT_EQ(::truncate(overlay_.c_str(), 4096 * 3), 0);
  auto truncated = open_disk(spec(base_, false, overlay_));
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.error().message.find("truncated"), std::string::npos) << truncated.error().message;
}

// A sparse file of `size` bytes with `pieces` (offset, bytes) written into it.
void make_sparse_file(const std::string& path, uint64_t size,
                      const std::vector<std::pair<uint64_t, std::vector<uint8_t>>>& pieces) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
  for (const auto& [offset, bytes] : pieces)
    ASSERT_EQ(::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)), static_cast<ssize_t>(bytes.size()));
  ::close(fd);
}

std::vector<uint8_t> counting_bytes(size_t length, uint8_t first) {
  std::vector<uint8_t> bytes(length);
  std::iota(bytes.begin(), bytes.end(), first);
  std::replace(bytes.begin(), bytes.end(), uint8_t{0}, uint8_t{0x5c});  // no zero bytes
  return bytes;
}

uint64_t allocated_bytes(const std::string& path) {
  struct stat info {};
  EXPECT_EQ(::stat(path.c_str(), &info), 0);
  return static_cast<uint64_t>(info.st_blocks) * 512;
}

// An overlay takes the guest's writes: it is the owner's alone, and a link
// planted at its path (to send those writes to another file) is refused.
TEST_F(DiskImageTest, OverlaysArePrivateAndNeverWrittenThroughALink) {
  const mode_t old = ::umask(0);
  auto created = open_disk(spec(base_, false, overlay_));
  ::umask(old);
  ASSERT_TRUE(created.ok()) << created.error().message;
  struct stat info {};
  ASSERT_EQ(::stat(overlay_.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);

  const std::string victim = temp_.file("victim");
  std::ofstream(victim) << "precious";
  const std::string linked = temp_.file("linked.overlay");
  ASSERT_EQ(::symlink(victim.c_str(), linked.c_str()), 0);
  auto through_link = open_disk(spec(base_, false, linked));
  ASSERT_FALSE(through_link.ok());
  EXPECT_NE(through_link.error().message.find("symbolic link"), std::string::npos) << through_link.error().message;

  const std::string hard = temp_.file("hard.overlay");
  ASSERT_EQ(::link(overlay_.c_str(), hard.c_str()), 0);
  auto two_names = open_disk(spec(base_, false, hard));
  ASSERT_FALSE(two_names.ok());
  EXPECT_NE(two_names.error().message.find("one name"), std::string::npos) << two_names.error().message;
  std::ifstream in(victim);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
}

class DiskCopyTest : public DiskImageTest {
 protected:
  // The whole disk as `image` reads it.
  std::vector<uint8_t> whole_disk(DiskImage& image) { return read(image, 0, image.size()); }
};

TEST_F(DiskCopyTest, CopiesARawImageSparsely) {
  // 5 MiB and 3 sectors: the end is neither a 1 MiB chunk nor a 4 KiB block.
  const uint64_t size = (5ull << 20) + 1536;
  const std::string source = temp_.file("source.img");
  make_sparse_file(source, size,
                   {{0, counting_bytes(512, 1)},
                    {(1ull << 20) - 100, counting_bytes(300, 7)},  // across the first chunk's end
                    {3ull << 20, counting_bytes(4096, 9)},
                    {size - 512, counting_bytes(512, 3)}});  // the last sector
  auto image = open_disk(spec(source, true));
  ASSERT_TRUE(image.ok()) << image.error().message;
  const std::string copy_path = temp_.file("disk-0");
  auto written = copy_disk_sparse(**image, copy_path);
  ASSERT_TRUE(written.ok()) << written.error().message;

  const auto copied = file_bytes(copy_path);
  EXPECT_EQ(copied.size(), size);
  EXPECT_TRUE(copied == whole_disk(**image)) << "the copy reads as the disk does";
  // Five 4 KiB blocks hold data (the piece across 1 MiB touches two), the
  // last one a 1536-byte tail.
  EXPECT_EQ(*written, 4u * 4096 + 1536);
  EXPECT_LT(allocated_bytes(copy_path), 256u * 1024) << "zeros stay holes";
  for (const auto& entry : std::filesystem::directory_iterator(temp_.path()))
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << "a temporary file stayed behind";
  // The copy is a disk in its own right.
  auto reopened = open_disk(spec(copy_path, true));
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  EXPECT_EQ((*reopened)->size(), size);
}

TEST_F(DiskCopyTest, CopiesWhatAnOverlayShowsOverItsBase) {
  const uint64_t size = 8ull << 20;
  const std::string base = temp_.file("sparse-base.img");
  make_sparse_file(base, size, {{0, counting_bytes(8192, 1)}, {4ull << 20, counting_bytes(4096, 2)}});
  auto image = open_disk(spec(base, false, temp_.file("sparse.overlay")));
  ASSERT_TRUE(image.ok()) << image.error().message;
  // Over the base's data, in a hole of the base, and zeros over base data.
  ASSERT_TRUE((*image)->write(4096, counting_bytes(512, 40)).ok());
  ASSERT_TRUE((*image)->write(6ull << 20, counting_bytes(3000, 50)).ok());
  ASSERT_TRUE((*image)->zero(4ull << 20, 4096, true).ok());

  const std::string copy_path = temp_.file("disk-1");
  auto written = copy_disk_sparse(**image, copy_path);
  ASSERT_TRUE(written.ok()) << written.error().message;
  const auto copied = file_bytes(copy_path);
  const auto disk = whole_disk(**image);
  EXPECT_EQ(copied.size(), size);
  EXPECT_TRUE(copied == disk) << "the copy reads as the overlay does";
  EXPECT_EQ(copied[4096], 40);
  EXPECT_EQ(copied[(6ull << 20) + 2999], counting_bytes(3000, 50)[2999]);
  EXPECT_EQ(copied[4ull << 20], 0) << "the zeroed range, not the base's data";
  EXPECT_EQ(*written, 3u * 4096) << "two base blocks and one overlay block";
  EXPECT_LT(allocated_bytes(copy_path), 256u * 1024);
}

TEST_F(DiskCopyTest, ReplacesAnExistingFile) {
  const std::string copy_path = temp_.file("disk-0");
  std::ofstream(copy_path) << std::string(200000, 'x');
  auto image = open_disk(spec(base_, true));
  ASSERT_TRUE(image.ok());
  ASSERT_TRUE(copy_disk_sparse(**image, copy_path).ok());
  EXPECT_TRUE(file_bytes(copy_path) == file_bytes(base_));
}

TEST_F(DiskCopyTest, AnUnwritablePlaceIsAnError) {
  auto image = open_disk(spec(base_, true));
  ASSERT_TRUE(image.ok());
  auto written = copy_disk_sparse(**image, dir_ + "/no/such/dir/disk-0");
  ASSERT_FALSE(written.ok());
  EXPECT_NE(written.error().message.find("no/such/dir/disk-0"), std::string::npos) << written.error().message;
}

}  // namespace
}  // namespace vmhive::virtio
