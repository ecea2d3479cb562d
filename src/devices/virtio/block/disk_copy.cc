#include "devices/virtio/block/disk_copy.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/unique_fd.h"
#include "devices/virtio/block/raw_image.h"

namespace vmhive::virtio {
namespace {

constexpr size_t kChunk = 1 << 20;
constexpr size_t kBlock = 4096;  // the granularity of holes

bool all_zero(std::span<const uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t byte) { return byte == 0; });
}

}  // namespace

Result<uint64_t> copy_disk_sparse(DiskImage& image, const std::string& path) {
  if (auto flushed = image.flush(); !flushed.ok()) return with_context("flushing the disk", flushed.error());
  const std::string temp = path + ".tmp";
  UniqueFd out(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!out.valid()) return make_error("disk copy " + temp + ": " + std::strerror(errno));
  // Whatever fails below, no half-written copy stays behind.
  struct RemoveUnlessRenamed {
    const std::string& path;
    bool renamed = false;
    ~RemoveUnlessRenamed() {
      if (!renamed) ::unlink(path.c_str());
    }
  } cleanup{temp};
  std::vector<uint8_t> chunk(kChunk);
  uint64_t written = 0;
  for (uint64_t offset = 0; offset < image.size(); offset += kChunk) {
    const size_t length = static_cast<size_t>(std::min<uint64_t>(kChunk, image.size() - offset));
    std::span<uint8_t> data(chunk.data(), length);
    if (auto read = image.read(offset, data); !read.ok()) return with_context("reading the disk", read.error());
    for (size_t at = 0; at < length; at += kBlock) {
      auto block = data.subspan(at, std::min(kBlock, length - at));
      if (all_zero(block)) continue;
      if (auto put = write_fully(out.get(), offset + at, block); !put.ok()) return with_context(temp, put.error());
      written += block.size();
    }
  }
  if (::ftruncate(out.get(), static_cast<off_t>(image.size())) != 0 || ::fsync(out.get()) != 0 ||
      ::rename(temp.c_str(), path.c_str()) != 0) {
    return make_error("disk copy " + path + ": " + std::strerror(errno));
  }
  cleanup.renamed = true;
  return written;
}

}  // namespace vmhive::virtio
