// Disk images on real files: raw images (bad files refused, reads, writes,
// zeroing) and copy-on-write overlays (the base is never written, partial
// clusters are copied up, data survives a reopen after a flush, unflushed
// allocations do not, and an overlay whose base changed is refused).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <vector>

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

}  // namespace
}  // namespace vmhive::virtio
