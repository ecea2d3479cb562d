#include "devices/virtio/block/overlay_image.h"

#include "common/atomic_file.h"
#include "common/errno_error.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>

namespace vmhive::virtio {
namespace {

constexpr char kMagic[8] = {'V', 'M', 'H', 'I', 'V', 'E', 'O', 'V'};
constexpr uint32_t kVersion = 1;
constexpr uint64_t kBitmapOffset = 4096;
constexpr uint64_t kBitmapPage = 4096;
constexpr uint64_t kMaxBasePath = kBitmapOffset - 128;

struct OverlayHeader {
  char magic[8];
  uint32_t version;
  uint32_t cluster_size;
  uint64_t disk_size;
  uint64_t base_size;
  int64_t base_mtime_seconds;
  int64_t base_mtime_nanoseconds;
  uint64_t bitmap_offset;
  uint64_t bitmap_bytes;
  uint64_t data_offset;
};
static_assert(sizeof(OverlayHeader) == 72);

uint64_t round_up(uint64_t value, uint64_t unit) { return (value + unit - 1) / unit * unit; }

Result<struct stat> stat_of(int fd, const std::string& path) {
  struct stat info {};
  if (::fstat(fd, &info) < 0) return errno_error(path);
  return info;
}

}  // namespace

Result<std::unique_ptr<OverlayImage>> OverlayImage::open(std::unique_ptr<RawImage> base, const std::string& base_path,
                                                         const std::string& overlay_path) {
  const struct stat base_info = VMHIVE_TRY(stat_of(base->fd(), base_path));
  const uint64_t size = base->size();
  const uint64_t clusters = round_up(size, kClusterSize) / kClusterSize;
  const uint64_t bitmap_bytes = round_up(round_up(clusters, 8) / 8, kBitmapPage);
  const uint64_t data_offset = round_up(kBitmapOffset + bitmap_bytes, 1 << 20);
  const std::string where = "overlay " + overlay_path;

  // Never through a link: an overlay is written, and a planted link would
  // send the guest's writes to any file the VMM can write.
  UniqueFd fd(::open(overlay_path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid() && errno == ENOENT) {
    // A new overlay, the owner's alone: header, empty bitmap, and a hole as big as the disk.
    fd = UniqueFd(::open(overlay_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) return errno_error(where + ": cannot create");
    if (base_path.size() >= kMaxBasePath) return make_error(where + ": base path too long");
    std::vector<uint8_t> head(kBitmapOffset, 0);
    OverlayHeader header{};
    std::memcpy(header.magic, kMagic, sizeof kMagic);
    header.version = kVersion;
    header.cluster_size = kClusterSize;
    header.disk_size = size;
    header.base_size = size;
    header.base_mtime_seconds = base_info.st_mtim.tv_sec;
    header.base_mtime_nanoseconds = base_info.st_mtim.tv_nsec;
    header.bitmap_offset = kBitmapOffset;
    header.bitmap_bytes = bitmap_bytes;
    header.data_offset = data_offset;
    std::memcpy(head.data(), &header, sizeof header);
    std::memcpy(head.data() + sizeof header, base_path.c_str(), base_path.size());
    VMHIVE_CHECK(write_fully(fd.get(), 0, head));
    if (::ftruncate(fd.get(), static_cast<off_t>(data_offset + size)) < 0 || ::fsync(fd.get()) < 0) {
      return errno_error(where);
    }
    // The overlay's name is durable too: its directory is synced.
    const size_t slash = overlay_path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : overlay_path.substr(0, slash);
    if (auto dir_fd = open_directory(dir); dir_fd.ok()) (void)::fsync(dir_fd->get());
  } else if (!fd.valid()) {
    if (errno == ELOOP) return make_error(where + " is a symbolic link; refusing to write through it");
    return errno_error(where);
  } else {
    const struct stat existing = VMHIVE_TRY(stat_of(fd.get(), overlay_path));
    if (!S_ISREG(existing.st_mode) || existing.st_nlink != 1)
      return make_error(where + " is not a regular file with one name (a hard link?); refusing to write it");
  }

  OverlayHeader header{};
  auto read = read_fully(fd.get(), 0, std::span(reinterpret_cast<uint8_t*>(&header), sizeof header));
  if (!read.ok()) return with_context(where, read.error());
  if (std::memcmp(header.magic, kMagic, sizeof kMagic) != 0) return make_error(where + " is not a vmhive overlay");
  if (header.version != kVersion || header.cluster_size != kClusterSize || header.bitmap_offset != kBitmapOffset ||
      header.bitmap_bytes != bitmap_bytes || header.data_offset != data_offset || header.disk_size != size) {
    return make_error(where + " has a layout this vmhive does not read, or was made for a base of another size");
  }
  if (header.base_size != static_cast<uint64_t>(base_info.st_size) ||
      header.base_mtime_seconds != base_info.st_mtim.tv_sec ||
      header.base_mtime_nanoseconds != base_info.st_mtim.tv_nsec) {
    return make_error(where + " was made over " + base_path +
                      " as it was then; the base has been modified since, so the overlay no longer fits it");
  }
  const struct stat overlay_info = VMHIVE_TRY(stat_of(fd.get(), overlay_path));
  if (static_cast<uint64_t>(overlay_info.st_size) < data_offset + size) {
    return make_error(where + " is truncated (" + std::to_string(overlay_info.st_size) + " bytes)");
  }
  std::vector<uint8_t> bitmap(bitmap_bytes);
  auto bits = read_fully(fd.get(), kBitmapOffset, bitmap);
  if (!bits.ok()) return with_context(where, bits.error());
  return std::unique_ptr<OverlayImage>(
      new OverlayImage(std::move(base), std::move(fd), size, data_offset, std::move(bitmap)));
}

void OverlayImage::mark_allocated(uint64_t first_cluster, uint64_t last_cluster) {
  for (uint64_t cluster = first_cluster; cluster <= last_cluster; ++cluster) {
    if (allocated(cluster)) continue;
    bitmap_[cluster / 8] |= static_cast<uint8_t>(1u << (cluster % 8));
    dirty_bitmap_pages_.insert(cluster / 8 / kBitmapPage);
  }
}

Result<void> OverlayImage::materialize(uint64_t cluster) {
  if (allocated(cluster)) return {};
  std::vector<uint8_t> data(kClusterSize);
  VMHIVE_CHECK(base_->read(cluster * kClusterSize, data));
  VMHIVE_CHECK(write_fully(overlay_.get(), data_offset_ + cluster * kClusterSize, data));
  mark_allocated(cluster, cluster);
  return {};
}

Result<void> OverlayImage::materialize_edges(uint64_t offset, uint64_t length) {
  if (offset % kClusterSize != 0) VMHIVE_CHECK(materialize(offset / kClusterSize));
  const uint64_t end = offset + length;
  if (end % kClusterSize != 0) VMHIVE_CHECK(materialize(end / kClusterSize));
  return {};
}

Result<void> OverlayImage::read(uint64_t offset, std::span<uint8_t> data) {
  // Runs of clusters on the same side are read with one call each.
  uint64_t done = 0;
  while (done < data.size()) {
    const uint64_t at = offset + done;
    const bool in_overlay = allocated(at / kClusterSize);
    uint64_t run_end = (at / kClusterSize + 1) * kClusterSize;
    while (run_end < offset + data.size() && allocated(run_end / kClusterSize) == in_overlay) run_end += kClusterSize;
    const uint64_t length = std::min<uint64_t>(run_end, offset + data.size()) - at;
    auto part = data.subspan(done, length);
    if (in_overlay) {
      VMHIVE_CHECK(read_fully(overlay_.get(), data_offset_ + at, part));
    } else {
      VMHIVE_CHECK(base_->read(at, part));
    }
    done += length;
  }
  return {};
}

Result<void> OverlayImage::write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.empty()) return {};
  VMHIVE_CHECK(materialize_edges(offset, data.size()));
  VMHIVE_CHECK(write_fully(overlay_.get(), data_offset_ + offset, data));
  mark_allocated(offset / kClusterSize, (offset + data.size() - 1) / kClusterSize);
  return {};
}

Result<void> OverlayImage::zero(uint64_t offset, uint64_t length, bool may_deallocate) {
  if (length == 0) return {};
  VMHIVE_CHECK(materialize_edges(offset, length));
  const int mode = may_deallocate ? (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) : FALLOC_FL_ZERO_RANGE;
  if (::fallocate(overlay_.get(), mode, static_cast<off_t>(data_offset_ + offset), static_cast<off_t>(length)) != 0) {
    std::vector<uint8_t> zeros(std::min<uint64_t>(length, 1 << 20), 0);
    for (uint64_t done = 0; done < length;) {
      const uint64_t chunk = std::min<uint64_t>(zeros.size(), length - done);
      VMHIVE_CHECK(write_fully(overlay_.get(), data_offset_ + offset + done, std::span(zeros).first(chunk)));
      done += chunk;
    }
  }
  mark_allocated(offset / kClusterSize, (offset + length - 1) / kClusterSize);
  return {};
}

Result<void> OverlayImage::flush() {
  // Data first, then the bitmap that points at it, each made stable.
  if (::fdatasync(overlay_.get()) < 0) return errno_error("fdatasync failed");
  if (dirty_bitmap_pages_.empty()) return {};
  for (uint64_t page : dirty_bitmap_pages_) {
    VMHIVE_CHECK(write_fully(overlay_.get(), kBitmapOffset + page * kBitmapPage,
                             std::span(bitmap_).subspan(page * kBitmapPage, kBitmapPage)));
  }
  dirty_bitmap_pages_.clear();
  if (::fdatasync(overlay_.get()) < 0) return errno_error("fdatasync failed");
  return {};
}

uint64_t OverlayImage::allocated_clusters() const {
  uint64_t count = 0;
  for (uint8_t byte : bitmap_) count += static_cast<uint64_t>(std::popcount(byte));
  return count;
}

}  // namespace vmhive::virtio
