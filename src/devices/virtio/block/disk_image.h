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

// Which file an image is, as the kernel tells it through the open
// descriptor: what a snapshot records of a shared image, and what a restore
// compares with the file the operator names.
struct FileIdentity {
  uint64_t device = 0;
  uint64_t inode = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileIdentity&) const = default;
};
// The identity of the file open on `fd`.
Result<FileIdentity> identity_of(int fd);

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
  // The file the disk is, for an image that is one file (a raw image).
  virtual Result<FileIdentity> identity() const { return make_error("the disk is not a single file"); }
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
