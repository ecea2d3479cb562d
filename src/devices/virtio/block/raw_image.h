// A raw disk image: the file's bytes are the disk's bytes.
#pragma once

#include "common/unique_fd.h"
#include "devices/virtio/block/disk_image.h"

namespace vmhive::virtio {

class RawImage : public DiskImage {
 public:
  // The size is the file's, which must be a whole number of 512-byte sectors.
  static Result<std::unique_ptr<RawImage>> open(const std::string& path, bool read_only);
  // The same over a file already open (`name` for messages): checked
  // through the descriptor, never looked up again by name.
  static Result<std::unique_ptr<RawImage>> from_fd(UniqueFd fd, const std::string& name, bool read_only);
  Result<FileIdentity> identity() const override { return identity_of(fd_.get()); }

  uint64_t size() const override { return size_; }
  bool read_only() const override { return read_only_; }
  std::string serial() const override { return serial_; }
  Result<void> read(uint64_t offset, std::span<uint8_t> data) override;
  Result<void> write(uint64_t offset, std::span<const uint8_t> data) override;
  Result<void> flush() override;
  Result<void> zero(uint64_t offset, uint64_t length, bool may_deallocate) override;

  int fd() const { return fd_.get(); }

 private:
  RawImage(UniqueFd fd, uint64_t size, bool read_only, std::string serial)
      : fd_(std::move(fd)), size_(size), read_only_(read_only), serial_(std::move(serial)) {}

  UniqueFd fd_;
  uint64_t size_;
  bool read_only_;
  std::string serial_;
};

// pread/pwrite of the whole span, retried on short transfers and EINTR.
// Reading past the end of the file gives zeros.
Result<void> read_fully(int fd, uint64_t offset, std::span<uint8_t> data);
Result<void> write_fully(int fd, uint64_t offset, std::span<const uint8_t> data);

}  // namespace vmhive::virtio
