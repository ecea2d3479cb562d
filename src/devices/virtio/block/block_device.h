// virtio-blk (virtio 1.2 §5.2) over a DiskImage: read, write, flush, get-id,
// discard and write-zeroes on one request queue, served synchronously on the
// device thread. A request that is well formed but cannot be carried out
// (past the end of the disk, a write to a read-only disk, a host I/O error)
// completes with an error status; a chain with no room for the header or the
// status byte is malformed, and the device needs a reset.
#pragma once

#include <memory>

#include "devices/virtio/block/disk_image.h"
#include "devices/virtio/virtio_device.h"

namespace vmhive::virtio {

class BlockDevice : public VirtioDevice {
 public:
  // Request types and statuses (§5.2.6).
  static constexpr uint32_t kTypeIn = 0;
  static constexpr uint32_t kTypeOut = 1;
  static constexpr uint32_t kTypeFlush = 4;
  static constexpr uint32_t kTypeGetId = 8;
  static constexpr uint32_t kTypeDiscard = 11;
  static constexpr uint32_t kTypeWriteZeroes = 13;
  static constexpr uint8_t kStatusOk = 0;
  static constexpr uint8_t kStatusIoError = 1;
  static constexpr uint8_t kStatusUnsupported = 2;
  // Feature bits (§5.2.3).
  static constexpr uint64_t kFeatureSegMax = 1ull << 2;
  static constexpr uint64_t kFeatureReadOnly = 1ull << 5;
  static constexpr uint64_t kFeatureBlockSize = 1ull << 6;
  static constexpr uint64_t kFeatureFlush = 1ull << 9;
  static constexpr uint64_t kFeatureDiscard = 1ull << 13;
  static constexpr uint64_t kFeatureWriteZeroes = 1ull << 14;
  static constexpr uint16_t kQueueSize = 256;
  static constexpr uint32_t kMaxZeroSectors = 1u << 22;  // 2 GiB per discard/write-zeroes range

  // `spec` says how the image was opened (a snapshot keeps a read-only image
  // by its path and copies any other). `serial` replaces the image's own ID
  // (a restored VM's disk keeps the ID its guest saw, though its image is now
  // an overlay on the snapshot's copy).
  explicit BlockDevice(std::unique_ptr<DiskImage> image, DiskSpec spec = {}, std::string serial = {})
      : image_(std::move(image)), spec_(std::move(spec)), serial_(std::move(serial)) {}

  std::string serial() const { return serial_.empty() ? image_->serial() : serial_; }
  DiskImage& image() { return *image_; }
  const DiskSpec& spec() const { return spec_; }

  DeviceType type() const override { return DeviceType::kBlock; }
  uint64_t features() const override;
  unsigned queue_count() const override { return 1; }
  uint16_t max_queue_size() const override { return kQueueSize; }
  void read_config(uint64_t offset, std::span<uint8_t> data) const override;
  Result<void> activate(uint64_t negotiated_features) override;
  void reset() override { negotiated_ = 0; }
  Result<bool> process_queue(unsigned index, Virtqueue& queue) override;
  // block_persist.cc: the disk record, the disk frozen into the snapshot.
  Result<std::vector<uint8_t>> save(const DeviceSaveContext& context) override;

 private:
  // Carries out one request; returns its status and how many bytes it wrote
  // into the data buffers.
  uint8_t execute(uint32_t type, uint64_t sector, uint32_t& data_written);
  void count(uint32_t type, uint8_t status, uint32_t data_written);
  uint8_t zero_ranges(bool discard);
  bool in_range(uint64_t sector, uint64_t bytes) const;

  std::unique_ptr<DiskImage> image_;
  DiskSpec spec_;
  std::string serial_;
  uint64_t negotiated_ = 0;
  DescriptorChain chain_;
};

}  // namespace vmhive::virtio
