#include "devices/virtio/block/block_device.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace vmhive::virtio {
namespace {

constexpr uint64_t kSectorSize = 512;
constexpr size_t kHeaderSize = 16;   // type, reserved, sector
constexpr size_t kRangeSize = 16;    // discard/write-zeroes: sector, num_sectors, flags
constexpr uint32_t kRangeUnmap = 1;
constexpr size_t kSerialSize = 20;

// The pieces of `segments` after skipping `front` bytes and before the last
// `back` bytes: the request's data between header and status.
template <class Function>
void for_each_piece(std::span<const BufferSegment> segments, uint64_t front, uint64_t back, Function&& function) {
  uint64_t total = 0;
  for (const auto& segment : segments) total += segment.data.size();
  const uint64_t end = total - back;
  uint64_t at = 0;
  for (const auto& segment : segments) {
    const uint64_t start = at, stop = at + segment.data.size();
    at = stop;
    const uint64_t from = std::max(start, front), to = std::min(stop, end);
    if (from >= to) continue;
    if (!function(segment.data.subspan(from - start, to - from))) return;
  }
}

// Copies `out.size()` bytes starting `offset` bytes into the segments.
void gather(std::span<const BufferSegment> segments, uint64_t offset, std::span<uint8_t> out) {
  size_t copied = 0;
  for_each_piece(segments, offset, 0, [&](std::span<uint8_t> piece) {
    const size_t take = std::min(piece.size(), out.size() - copied);
    std::memcpy(out.data() + copied, piece.data(), take);
    copied += take;
    return copied < out.size();
  });
}

}  // namespace

uint64_t BlockDevice::features() const {
  uint64_t features = kFeatureSegMax | kFeatureBlockSize | kFeatureFlush;
  features |= image_->read_only() ? kFeatureReadOnly : (kFeatureDiscard | kFeatureWriteZeroes);
  return features;
}

void BlockDevice::read_config(uint64_t offset, std::span<uint8_t> data) const {
  std::array<uint8_t, 64> config{};
  auto put = [&config](size_t at, auto value) { std::memcpy(&config[at], &value, sizeof value); };
  put(0, image_->size() / kSectorSize);                 // capacity
  put(12, static_cast<uint32_t>(kQueueSize - 2));       // seg_max: all but header and status
  put(20, static_cast<uint32_t>(kSectorSize));          // blk_size
  put(36, kMaxZeroSectors);                             // max_discard_sectors
  put(40, uint32_t{1});                                 // max_discard_seg
  put(44, uint32_t{1});                                 // discard_sector_alignment
  put(48, kMaxZeroSectors);                             // max_write_zeroes_sectors
  put(52, uint32_t{1});                                 // max_write_zeroes_seg
  put(56, uint8_t{1});                                  // write_zeroes_may_unmap
  std::fill(data.begin(), data.end(), 0);
  if (offset < config.size()) {
    std::memcpy(data.data(), &config[offset], std::min<size_t>(data.size(), config.size() - offset));
  }
}

Result<void> BlockDevice::activate(uint64_t negotiated_features) {
  negotiated_ = negotiated_features;
  return {};
}

bool BlockDevice::in_range(uint64_t sector, uint64_t bytes) const {
  const uint64_t capacity = image_->size() / kSectorSize;
  return sector <= capacity && bytes <= (capacity - sector) * kSectorSize;
}

Result<bool> BlockDevice::process_queue(unsigned index, Virtqueue& queue) {
  if (index != 0) return false;
  bool used = false;
  for (;;) {
    if (!VMHIVE_TRY(queue.pop_chain(chain_))) return used;
    if (chain_.readable_bytes < kHeaderSize || chain_.writable_bytes < 1) {
      return make_error("request with head " + std::to_string(chain_.head) +
                        " has no room for its 16-byte header or its status byte");
    }
    std::array<uint8_t, kHeaderSize> header;
    gather(chain_.readable(), 0, header);
    uint32_t type;
    uint64_t sector;
    std::memcpy(&type, &header[0], 4);
    std::memcpy(&sector, &header[8], 8);
    uint32_t data_written = 0;
    const uint8_t status = execute(type, sector, data_written);
    count(type, status, data_written);
    const BufferSegment& last = chain_.writable().back();
    last.data.back() = status;
    queue.add_used(chain_.head, data_written + 1);
    used = true;
  }
}

void BlockDevice::count(uint32_t type, uint8_t status, uint32_t data_written) {
  if (status != kStatusOk) {
    counters().count_failed();
  } else if (type == kTypeIn) {
    counters().count_in(data_written);
  } else if (type == kTypeOut) {
    counters().count_out(chain_.readable_bytes - kHeaderSize);
  } else {
    counters().count_other();
  }
}

uint8_t BlockDevice::execute(uint32_t type, uint64_t sector, uint32_t& data_written) {
  const auto readable = chain_.readable();
  const auto writable = chain_.writable();
  switch (type) {
    case kTypeIn: {
      const uint64_t length = chain_.writable_bytes - 1;
      if (length % kSectorSize != 0 || !in_range(sector, length)) return kStatusIoError;
      uint64_t offset = sector * kSectorSize;
      bool ok = true;
      for_each_piece(writable, 0, 1, [&](std::span<uint8_t> piece) {
        ok = image_->read(offset, piece).ok();
        offset += piece.size();
        return ok;
      });
      if (!ok) return kStatusIoError;
      data_written = static_cast<uint32_t>(length);
      return kStatusOk;
    }
    case kTypeOut: {
      const uint64_t length = chain_.readable_bytes - kHeaderSize;
      if (image_->read_only() || length % kSectorSize != 0 || !in_range(sector, length)) return kStatusIoError;
      uint64_t offset = sector * kSectorSize;
      bool ok = true;
      for_each_piece(readable, kHeaderSize, 0, [&](std::span<uint8_t> piece) {
        ok = image_->write(offset, piece).ok();
        offset += piece.size();
        return ok;
      });
      // Without VIRTIO_BLK_F_FLUSH the driver expects write-through.
      if (ok && !(negotiated_ & kFeatureFlush)) ok = image_->flush().ok();
      return ok ? kStatusOk : kStatusIoError;
    }
    case kTypeFlush:
      return image_->flush().ok() ? kStatusOk : kStatusIoError;
    case kTypeGetId: {
      const std::string id_text = serial();
      std::array<uint8_t, kSerialSize> id{};
      std::memcpy(id.data(), id_text.data(), std::min(id_text.size(), id.size()));
      size_t copied = 0;
      for_each_piece(writable, 0, 1, [&](std::span<uint8_t> piece) {
        const size_t take = std::min(piece.size(), id.size() - copied);
        std::memcpy(piece.data(), id.data() + copied, take);
        copied += take;
        return copied < id.size();
      });
      data_written = static_cast<uint32_t>(copied);
      return kStatusOk;
    }
    case kTypeDiscard:
      return (negotiated_ & kFeatureDiscard) ? zero_ranges(true) : kStatusUnsupported;
    case kTypeWriteZeroes:
      return (negotiated_ & kFeatureWriteZeroes) ? zero_ranges(false) : kStatusUnsupported;
    default:
      return kStatusUnsupported;
  }
}

uint8_t BlockDevice::zero_ranges(bool discard) {
  const uint64_t payload = chain_.readable_bytes - kHeaderSize;
  // One range per request (max_discard_seg = max_write_zeroes_seg = 1).
  if (payload != kRangeSize || image_->read_only()) return kStatusIoError;
  std::array<uint8_t, kRangeSize> range;
  gather(chain_.readable(), kHeaderSize, range);
  uint64_t sector;
  uint32_t sectors, flags;
  std::memcpy(&sector, &range[0], 8);
  std::memcpy(&sectors, &range[8], 4);
  std::memcpy(&flags, &range[12], 4);
  if ((flags & ~kRangeUnmap) != 0 || (discard && flags != 0)) return kStatusUnsupported;
  if (sectors > kMaxZeroSectors || !in_range(sector, uint64_t{sectors} * kSectorSize)) return kStatusIoError;
  const bool deallocate = discard || (flags & kRangeUnmap);
  return image_->zero(sector * kSectorSize, uint64_t{sectors} * kSectorSize, deallocate).ok() ? kStatusOk
                                                                                             : kStatusIoError;
}

}  // namespace vmhive::virtio
