// A copy-on-write overlay: many VMs boot from one read-only base image, each
// writing only to its own sparse overlay file.
//
// Overlay file layout (little-endian):
//   0          header (OverlayHeader), then the base's path, NUL-terminated
//   4096       allocation bitmap: bit i set = cluster i lives in the overlay
//   data_offset  the disk's bytes at data_offset + disk offset; a sparse file,
//              so only clusters that were written take space
// Clusters are 4 KiB. A write to part of a cluster not yet in the overlay
// first copies that cluster from the base. The bitmap is kept in memory and
// written at each flush, after the data is stable: a crash loses unflushed
// writes (the guest was not told they were durable) but never exposes a
// cluster whose data did not reach the disk.
//
// The header records the base's size and modification time; an overlay whose
// base has changed since is refused, as its unwritten clusters would no longer
// mean what they meant.
#pragma once

#include <set>
#include <vector>

#include "common/unique_fd.h"
#include "devices/virtio/block/raw_image.h"

namespace vmhive::virtio {

class OverlayImage : public DiskImage {
 public:
  static constexpr uint64_t kClusterSize = 4096;

  // Opens the overlay at `overlay_path`, or creates it for `base` if there is
  // no file there. `base` must be read-only.
  static Result<std::unique_ptr<OverlayImage>> open(std::unique_ptr<RawImage> base, const std::string& base_path,
                                                    const std::string& overlay_path);

  uint64_t size() const override { return size_; }
  bool read_only() const override { return false; }
  std::string serial() const override { return base_->serial(); }
  Result<void> read(uint64_t offset, std::span<uint8_t> data) override;
  Result<void> write(uint64_t offset, std::span<const uint8_t> data) override;
  Result<void> flush() override;
  Result<void> zero(uint64_t offset, uint64_t length, bool may_deallocate) override;

  // Clusters now in the overlay, for tests and diagnostics.
  uint64_t allocated_clusters() const;

 private:
  OverlayImage(std::unique_ptr<RawImage> base, UniqueFd overlay, uint64_t size, uint64_t data_offset,
               std::vector<uint8_t> bitmap)
      : base_(std::move(base)), overlay_(std::move(overlay)), size_(size), data_offset_(data_offset),
        bitmap_(std::move(bitmap)) {}

  bool allocated(uint64_t cluster) const { return (bitmap_[cluster / 8] >> (cluster % 8)) & 1; }
  void mark_allocated(uint64_t first_cluster, uint64_t last_cluster);
  // Copies cluster `cluster` from the base into the overlay if it is not there.
  Result<void> materialize(uint64_t cluster);
  // Makes the clusters at the edges of [offset, offset + length) whole in the
  // overlay, so that the range can then be written in one go.
  Result<void> materialize_edges(uint64_t offset, uint64_t length);

  std::unique_ptr<RawImage> base_;
  UniqueFd overlay_;
  uint64_t size_;
  uint64_t data_offset_;
  std::vector<uint8_t> bitmap_;
  std::set<uint64_t> dirty_bitmap_pages_;  // 4 KiB pages of the bitmap to write at the next flush
};

}  // namespace vmhive::virtio
