// What virtio-blk reads and writes: a disk of fixed size, addressed in bytes.
// Offsets and lengths reaching an image have been checked against size() by
// the device; an image only reports host I/O failures.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/result.h"

namespace vmhive::virtio {

class DiskImage {
 public:
  virtual ~DiskImage() = default;
  virtual uint64_t size() const = 0;
  virtual bool read_only() const = 0;
  // Up to 20 bytes that identify the disk to the guest (VIRTIO_BLK_T_GET_ID).
  virtual std::string serial() const = 0;

  virtual Result<void> read(uint64_t offset, std::span<uint8_t> data) = 0;
  virtual Result<void> write(uint64_t offset, std::span<const uint8_t> data) = 0;
  // Everything written before is on stable storage when this returns.
  virtual Result<void> flush() = 0;
  // The range reads as zeros afterwards; `may_deallocate` lets the image free
  // the space (discard, or write-zeroes with the unmap flag).
  virtual Result<void> zero(uint64_t offset, uint64_t length, bool may_deallocate) = 0;
};

// How a --disk option asks for an image.
struct DiskSpec {
  std::string path;
  bool read_only = false;
  std::string overlay_path;  // empty: write to `path` itself
};

// Opens the image `spec` describes: the raw file, or a copy-on-write overlay
// over it (created if missing). Errors name the file and what is wrong.
Result<std::unique_ptr<DiskImage>> open_disk(const DiskSpec& spec);

}  // namespace vmhive::virtio
