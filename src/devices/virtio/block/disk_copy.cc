#include "devices/virtio/block/disk_copy.h"

#include <unistd.h>

#include <algorithm>
#include <vector>

#include "common/atomic_file.h"
#include "common/errno_error.h"
#include "common/fd_io.h"

namespace vmhive::virtio {
namespace {

constexpr size_t kChunk = 1 << 20;
constexpr size_t kBlock = 4096;  // the granularity of holes

bool all_zero(std::span<const uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t byte) { return byte == 0; });
}

}  // namespace

Result<uint64_t> copy_disk_sparse(DiskImage& image, int dir_fd, const std::string& name) {
  if (auto flushed = image.flush(); !flushed.ok()) return with_context("flushing the disk", flushed.error());
  // Whatever fails below, the temporary file goes with `out`.
  AtomicFile out = VMHIVE_TRY(AtomicFile::create(dir_fd, name));
  std::vector<uint8_t> chunk(kChunk);
  uint64_t written = 0;
  for (uint64_t offset = 0; offset < image.size(); offset += kChunk) {
    const size_t length = static_cast<size_t>(std::min<uint64_t>(kChunk, image.size() - offset));
    std::span<uint8_t> data(chunk.data(), length);
    if (auto read = image.read(offset, data); !read.ok()) return with_context("reading the disk", read.error());
    for (size_t at = 0; at < length; at += kBlock) {
      auto block = data.subspan(at, std::min(kBlock, length - at));
      if (all_zero(block)) continue;
      if (auto put = pwrite_fully(out.fd(), block, offset + at); !put.ok()) return with_context(name, put.error());
      written += block.size();
    }
  }
  if (::ftruncate(out.fd(), static_cast<off_t>(image.size())) != 0) return errno_error("cannot size", name);
  VMHIVE_CHECK(out.commit());
  return written;
}

Result<uint64_t> copy_disk_sparse(DiskImage& image, const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  auto dir_fd = open_directory(dir);
  if (!dir_fd.ok()) return with_context("disk copy " + path, dir_fd.error());
  auto copied = copy_disk_sparse(image, dir_fd->get(), path.substr(slash == std::string::npos ? 0 : slash + 1));
  if (!copied.ok()) return with_context("disk copy " + path, copied.error());
  return copied;
}

}  // namespace vmhive::virtio
