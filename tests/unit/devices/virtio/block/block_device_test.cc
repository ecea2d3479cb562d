// virtio-blk requests against a raw image file, through a real virtqueue:
// each request type, split headers, bounds, read-only disks, unsupported
// requests and malformed chains.
#include "devices/virtio/block/block_device.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "devices/virtio/block/raw_image.h"
#include "temp_dir.h"
#include "virtqueue_driver.h"

namespace vmhive::virtio {
namespace {

using testing::kDescNext;
using testing::kDescWrite;
using testing::TestDriver;
using vmhive::testing::TempDir;

constexpr uint64_t kHeader = 0x100000, kData = 0x101000, kStatus = 0x110000;
constexpr uint64_t kDiskBytes = 1 << 20;

class BlockDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = temp_.file("disk.img");
    std::vector<char> bytes(kDiskBytes);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i / 512);
    std::ofstream(path_, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  void make_device(bool read_only = false, uint64_t features = BlockDevice::kFeatureFlush |
                                                                BlockDevice::kFeatureDiscard |
                                                                BlockDevice::kFeatureWriteZeroes) {
    auto image = RawImage::open(path_, read_only);
    ASSERT_TRUE(image.ok()) << image.error().message;
    device_ = std::make_unique<BlockDevice>(std::move(*image));
    ASSERT_TRUE(device_->activate(features | kFeatureVersion1).ok());
    auto queue = Virtqueue::create(memory_, driver_.state(), features);
    ASSERT_TRUE(queue.ok());
    queue_.emplace(std::move(*queue));
  }

  void header(uint32_t type, uint64_t sector) {
    ASSERT_TRUE(memory_.write_obj(kHeader, type).ok());
    ASSERT_TRUE(memory_.write_obj(kHeader + 4, uint32_t{0}).ok());
    ASSERT_TRUE(memory_.write_obj(kHeader + 8, sector).ok());
    ASSERT_TRUE(memory_.write_obj(kStatus, uint8_t{0xff}).ok());
  }
  // header -> data (direction given) -> status; returns (status, used length).
  std::pair<uint8_t, uint32_t> request(uint32_t type, uint64_t sector, uint32_t data_bytes, bool device_writes) {
    header(type, sector);
    driver_.set_descriptor(0, kHeader, 16, kDescNext, 1);
    uint16_t status_index = 1;
    if (data_bytes) {
      driver_.set_descriptor(1, kData, data_bytes, kDescNext | (device_writes ? kDescWrite : 0), 2);
      status_index = 2;
    }
    driver_.set_descriptor(status_index, kStatus, 1, kDescWrite, 0);
    driver_.publish(0);
    return run();
  }
  std::pair<uint8_t, uint32_t> run() {
    auto served = device_->process_queue(0, *queue_);
    EXPECT_TRUE(served.ok()) << served.error().message;
    const uint16_t slot = static_cast<uint16_t>(driver_.used_index() - 1);
    return {*memory_.read_obj<uint8_t>(kStatus), driver_.used_element(slot).second};
  }
  std::vector<uint8_t> disk_bytes(uint64_t offset, size_t length) {
    std::ifstream in(path_, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(offset));
    std::vector<uint8_t> bytes(length);
    in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(length));
    return bytes;
  }

  TempDir temp_;
  std::string path_;
  GuestMemory memory_ = *GuestMemory::create({{0, 4ull << 20}});
  TestDriver driver_{memory_, 8};
  std::unique_ptr<BlockDevice> device_;
  std::optional<Virtqueue> queue_;
};

TEST_F(BlockDeviceTest, ConfigDescribesTheDisk) {
  make_device();
  uint64_t capacity = 0;
  device_->read_config(0, std::span(reinterpret_cast<uint8_t*>(&capacity), 8));
  EXPECT_EQ(capacity, kDiskBytes / 512);
  uint32_t block_size = 0;
  device_->read_config(20, std::span(reinterpret_cast<uint8_t*>(&block_size), 4));
  EXPECT_EQ(block_size, 512u);
  uint8_t past_end[4] = {1, 1, 1, 1};
  device_->read_config(200, past_end);
  EXPECT_EQ(past_end[0], 0);
  EXPECT_NE(device_->features() & BlockDevice::kFeatureFlush, 0u);
  EXPECT_EQ(device_->features() & BlockDevice::kFeatureReadOnly, 0u);
}

TEST_F(BlockDeviceTest, ReadsAndWritesSectors) {
  make_device();
  auto [status, used] = request(BlockDevice::kTypeIn, 3, 1024, true);
  EXPECT_EQ(status, BlockDevice::kStatusOk);
  EXPECT_EQ(used, 1025u);
  EXPECT_EQ(*memory_.read_obj<uint8_t>(kData), 3);
  EXPECT_EQ(*memory_.read_obj<uint8_t>(kData + 1023), 4);

  ASSERT_TRUE(memory_.fill(kData, 0xcd, 512).ok());
  std::tie(status, used) = request(BlockDevice::kTypeOut, 10, 512, false);
  EXPECT_EQ(status, BlockDevice::kStatusOk);
  EXPECT_EQ(used, 1u);
  std::tie(status, used) = request(BlockDevice::kTypeFlush, 0, 0, false);
  EXPECT_EQ(status, BlockDevice::kStatusOk);
  EXPECT_EQ(disk_bytes(10 * 512, 1)[0], 0xcd);
  EXPECT_EQ(disk_bytes(11 * 512, 1)[0], 11);
  const DeviceTraffic traffic = device_->traffic();
  EXPECT_EQ(traffic.in_requests, 1u);
  EXPECT_EQ(traffic.in_bytes, 1024u);
  EXPECT_EQ(traffic.out_requests, 1u);
  EXPECT_EQ(traffic.out_bytes, 512u);
  EXPECT_EQ(traffic.other_requests, 1u) << "the flush";
  EXPECT_EQ(traffic.failed, 0u);
}

TEST_F(BlockDeviceTest, HeaderSplitAcrossDescriptorsAndDataWithStatus) {
  make_device();
  header(BlockDevice::kTypeIn, 7);
  driver_.set_descriptor(0, kHeader, 8, kDescNext, 1);
  driver_.set_descriptor(1, kHeader + 8, 8, kDescNext, 2);
  // Data and status in one writable buffer: 512 bytes then the status byte.
  driver_.set_descriptor(2, kData, 513, kDescWrite, 0);
  driver_.publish(0);
  run();
  EXPECT_EQ(*memory_.read_obj<uint8_t>(kData), 7);
  EXPECT_EQ(*memory_.read_obj<uint8_t>(kData + 512), BlockDevice::kStatusOk);
}

TEST_F(BlockDeviceTest, RejectsOutOfRangeAndOddLengths) {
  make_device();
  EXPECT_EQ(request(BlockDevice::kTypeIn, kDiskBytes / 512, 512, true).first, BlockDevice::kStatusIoError);
  EXPECT_EQ(request(BlockDevice::kTypeIn, kDiskBytes / 512 - 1, 1024, true).first, BlockDevice::kStatusIoError);
  EXPECT_EQ(request(BlockDevice::kTypeIn, ~0ull / 2, 512, true).first, BlockDevice::kStatusIoError);
  EXPECT_EQ(request(BlockDevice::kTypeOut, 0, 100, false).first, BlockDevice::kStatusIoError);
  EXPECT_EQ(request(BlockDevice::kTypeIn, kDiskBytes / 512 - 1, 512, true).first, BlockDevice::kStatusOk);
  EXPECT_EQ(request(99, 0, 0, false).first, BlockDevice::kStatusUnsupported);
  EXPECT_EQ(device_->traffic().failed, 5u);
  EXPECT_EQ(device_->traffic().in_requests, 1u);
  EXPECT_EQ(device_->traffic().in_bytes, 512u);
}

TEST_F(BlockDeviceTest, ReadOnlyDiskRefusesWrites) {
  make_device(true);
  EXPECT_NE(device_->features() & BlockDevice::kFeatureReadOnly, 0u);
  EXPECT_EQ(device_->features() & BlockDevice::kFeatureDiscard, 0u);
  ASSERT_TRUE(memory_.fill(kData, 0xcd, 512).ok());
  EXPECT_EQ(request(BlockDevice::kTypeOut, 0, 512, false).first, BlockDevice::kStatusIoError);
  EXPECT_EQ(disk_bytes(0, 1)[0], 0);
  EXPECT_EQ(request(BlockDevice::kTypeIn, 0, 512, true).first, BlockDevice::kStatusOk);
}

TEST_F(BlockDeviceTest, GetIdWritesTheSerial) {
  make_device();
  ASSERT_TRUE(memory_.fill(kData, 0xff, 20).ok());
  auto [status, used] = request(BlockDevice::kTypeGetId, 0, 20, true);
  EXPECT_EQ(status, BlockDevice::kStatusOk);
  EXPECT_EQ(used, 21u);
  char id[21] = {};
  ASSERT_TRUE(memory_.read(kData, std::span(reinterpret_cast<uint8_t*>(id), 20)).ok());
  EXPECT_EQ(std::string(id).rfind("vmhive-", 0), 0u) << id;
}

TEST_F(BlockDeviceTest, DiscardAndWriteZeroes) {
  make_device();
  struct Range {
    uint64_t sector;
    uint32_t sectors;
    uint32_t flags;
  };
  ASSERT_TRUE(memory_.write_obj(kData, Range{4, 4, 0}).ok());
  EXPECT_EQ(request(BlockDevice::kTypeWriteZeroes, 0, 16, false).first, BlockDevice::kStatusOk);
  EXPECT_EQ(disk_bytes(4 * 512, 1)[0], 0);
  EXPECT_EQ(disk_bytes(7 * 512 + 511, 1)[0], 0);
  EXPECT_EQ(disk_bytes(8 * 512, 1)[0], 8);
  ASSERT_TRUE(memory_.write_obj(kData, Range{16, 8, 0}).ok());
  EXPECT_EQ(request(BlockDevice::kTypeDiscard, 0, 16, false).first, BlockDevice::kStatusOk);
  ASSERT_TRUE(memory_.write_obj(kData, Range{16, 8, 1}).ok());
  EXPECT_EQ(request(BlockDevice::kTypeDiscard, 0, 16, false).first, BlockDevice::kStatusUnsupported)
      << "discard takes no flags";
  ASSERT_TRUE(memory_.write_obj(kData, Range{kDiskBytes / 512, 1, 0}).ok());
  EXPECT_EQ(request(BlockDevice::kTypeWriteZeroes, 0, 16, false).first, BlockDevice::kStatusIoError);
  EXPECT_EQ(request(BlockDevice::kTypeDiscard, 0, 32, false).first, BlockDevice::kStatusIoError)
      << "one range per request";

  make_device(false, BlockDevice::kFeatureFlush);  // neither negotiated
  EXPECT_EQ(request(BlockDevice::kTypeDiscard, 0, 16, false).first, BlockDevice::kStatusUnsupported);
}

TEST_F(BlockDeviceTest, ChainsWithoutHeaderOrStatusAreMalformed) {
  make_device();
  driver_.set_descriptor(0, kHeader, 8, kDescNext, 1);  // header too short
  driver_.set_descriptor(1, kStatus, 1, kDescWrite, 0);
  driver_.publish(0);
  auto served = device_->process_queue(0, *queue_);
  ASSERT_FALSE(served.ok());
  EXPECT_NE(served.error().message.find("header"), std::string::npos);

  make_device();
  driver_.set_descriptor(0, kHeader, 16, 0, 0);  // no status byte
  driver_.publish(0);
  EXPECT_FALSE(device_->process_queue(0, *queue_).ok());
}

}  // namespace
}  // namespace vmhive::virtio
