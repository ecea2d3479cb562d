// Guest RAM and the one checked accessor for guest physical addresses.
//
// Every guest address that reaches the VMM (from a loader, a device, a ring)
// goes through slice()/read()/write(), which fail cleanly when the range is
// not wholly inside one RAM region. Nothing else turns a GPA into a pointer.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <vector>

#include "common/mapping.h"
#include "common/unique_fd.h"
#include "common/result.h"

namespace vmhive {

struct MemoryRegion {
  uint64_t guest_address;
  uint64_t size;
};

class GuestMemory {
 public:
  struct HostRegion {
    uint64_t guest_address;
    uint64_t size;
    uint8_t* host;
  };

  // Maps anonymous memory for the given regions (page-aligned, sorted,
  // non-overlapping). Memory is reserved lazily (MAP_NORESERVE).
  static Result<GuestMemory> create(const std::vector<MemoryRegion>& regions);
  // Maps the regions, laid end to end, from a snapshot's memory file (`fd`,
  // exactly as long as the regions together) copy-on-write: pages the guest
  // never writes stay shared with every other mapping of the file through the
  // page cache, and nothing the guest writes reaches the file.
  static Result<GuestMemory> map_file_private(const std::vector<MemoryRegion>& regions, int fd);

  // Writes guest RAM to `fd` (regions end to end) as a sparse file: pages
  // that are zero are holes. Returns the bytes written. For anonymous memory
  // only pages the host has present or swapped are looked at.
  Result<uint64_t> save_to_file(int fd) const;

  GuestMemory(GuestMemory&&) = default;
  GuestMemory& operator=(GuestMemory&&) = default;

  // A host view of [gpa, gpa+len); an error if any byte lies outside RAM or
  // the range spans two regions.
  Result<std::span<uint8_t>> slice(uint64_t gpa, uint64_t len) const;

  Result<void> read(uint64_t gpa, std::span<uint8_t> out) const;
  Result<void> write(uint64_t gpa, std::span<const uint8_t> data) const;
  Result<void> fill(uint64_t gpa, uint8_t value, uint64_t len) const;

  template <class T>
  Result<T> read_obj(uint64_t gpa) const {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    VMHIVE_CHECK(read(gpa, std::span(reinterpret_cast<uint8_t*>(&value), sizeof(T))));
    return value;
  }
  template <class T>
  Result<void> write_obj(uint64_t gpa, const T& value) const {
    static_assert(std::is_trivially_copyable_v<T>);
    return write(gpa, std::span(reinterpret_cast<const uint8_t*>(&value), sizeof(T)));
  }

  bool contains(uint64_t gpa, uint64_t len) const { return slice(gpa, len).ok(); }
  const std::vector<HostRegion>& regions() const { return regions_; }
  uint64_t total_size() const;

  // RAM mapped from a file (a snapshot's memory) is gone where the file
  // shrank under it: a guest touching it faults, the VMM gets SIGBUS. An
  // error here says the file is shorter than the RAM it backs, so that a VM
  // that stops can say why (nothing can stop another user with write access
  // to the file from truncating it; docs/security.md).
  Result<void> check_backing() const;

 private:
  GuestMemory(Mapping mapping, std::vector<HostRegion> regions, UniqueFd backing, UniqueFd pagemap)
      : mapping_(std::move(mapping)), regions_(std::move(regions)), backing_(std::move(backing)),
        pagemap_(std::move(pagemap)) {}
  static Result<GuestMemory> map(const std::vector<MemoryRegion>& regions, int fd);
  bool anonymous() const { return !backing_.valid(); }

  Mapping mapping_;
  std::vector<HostRegion> regions_;
  UniqueFd backing_;  // the file RAM is mapped from; invalid for anonymous RAM
  UniqueFd pagemap_;  // /proc/self/pagemap, for anonymous RAM: which pages were ever touched
};

}  // namespace vmhive
