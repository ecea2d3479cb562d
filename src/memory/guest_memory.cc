#include "memory/guest_memory.h"

#include "common/fd_io.h"
#include "common/hex.h"
#include "common/errno_error.h"
#include "common/unique_fd.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace vmhive {
namespace {

constexpr uint64_t kPageSize = 4096;


}  // namespace

Result<GuestMemory> GuestMemory::create(const std::vector<MemoryRegion>& regions) { return map(regions, -1); }

Result<GuestMemory> GuestMemory::map_file_private(const std::vector<MemoryRegion>& regions, int fd) {
  return map(regions, fd);
}

Result<GuestMemory> GuestMemory::map(const std::vector<MemoryRegion>& regions, int fd) {
  if (regions.empty()) return make_error("guest memory: no RAM regions given");
  uint64_t total = 0;
  uint64_t previous_end = 0;
  for (const auto& region : regions) {
    if (region.size == 0 || region.guest_address % kPageSize != 0 || region.size % kPageSize != 0)
      return make_error("guest memory: region at " + hex(region.guest_address) +
                        " is empty or not page-aligned");
    if (region.guest_address < previous_end)
      return make_error("guest memory: regions overlap or are unsorted at " +
                        hex(region.guest_address));
    if (region.guest_address + region.size < region.guest_address)
      return make_error("guest memory: region at " + hex(region.guest_address) + " wraps");
    previous_end = region.guest_address + region.size;
    total += region.size;
  }
  const bool anonymous = fd < 0;
  if (!anonymous) {
    struct stat status {};
    if (::fstat(fd, &status) != 0) return errno_error("memory file: fstat failed");
    if (static_cast<uint64_t>(status.st_size) != total)
      return make_error("memory file is " + std::to_string(status.st_size) + " bytes, the snapshot's RAM is " +
                        std::to_string(total));
  }
  void* addr = ::mmap(nullptr, total, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_NORESERVE | (anonymous ? MAP_ANONYMOUS : 0), fd, 0);
  if (addr == MAP_FAILED)
    return errno_error("guest memory: cannot map " + std::to_string(total >> 20) + " MiB of RAM");
  Mapping mapping(addr, total);
  std::vector<HostRegion> host_regions;
  uint64_t offset = 0;
  for (const auto& region : regions) {
    host_regions.push_back({region.guest_address, region.size, mapping.data() + offset});
    offset += region.size;
  }
  UniqueFd backing, pagemap;
  if (!anonymous) {
    backing = UniqueFd(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (!backing.valid()) return errno_error("memory file: cannot keep it open");
  } else {
    // Opened now: a confined or jailed VM process cannot open it later (it
    // is no longer dumpable once it changed its user, nor may it open files).
    pagemap = UniqueFd(::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC));
  }
  return GuestMemory(std::move(mapping), std::move(host_regions), std::move(backing), std::move(pagemap));
}

Result<void> GuestMemory::check_backing() const {
  if (anonymous()) return {};
  struct stat status {};
  if (::fstat(backing_.get(), &status) != 0) return errno_error("memory file: fstat failed");
  if (static_cast<uint64_t>(status.st_size) < total_size())
    return make_error("the snapshot's memory file shrank under this VM (" + std::to_string(status.st_size) +
                      " bytes now, " + std::to_string(total_size()) + " mapped): its RAM is gone; the VM cannot go on");
  return {};
}

namespace {

bool page_is_zero(const uint8_t* page) {
  static constexpr uint8_t kZeros[kPageSize] = {};
  return std::memcmp(page, kZeros, kPageSize) == 0;
}

// Which pages of [start, start + pages * 4 KiB) the host has present or in
// swap (/proc/self/pagemap bits 63 and 62): an anonymous page that is neither
// was never written and reads as zero.
Result<std::vector<bool>> touched_pages(const UniqueFd& pagemap, const uint8_t* start, uint64_t pages) {
  if (!pagemap.valid()) return make_error("cannot read /proc/self/pagemap (it could not be opened when RAM was made)");
  std::vector<bool> touched(pages);
  std::vector<uint64_t> entries(4096);
  const uint64_t first = reinterpret_cast<uintptr_t>(start) / kPageSize;
  for (uint64_t done = 0; done < pages;) {
    const uint64_t batch = std::min<uint64_t>(entries.size(), pages - done);
    const ssize_t got = ::pread(pagemap.get(), entries.data(), batch * sizeof(uint64_t),
                                static_cast<off_t>((first + done) * sizeof(uint64_t)));
    if (got != static_cast<ssize_t>(batch * sizeof(uint64_t)))
      return errno_error("reading /proc/self/pagemap failed");
    for (uint64_t i = 0; i < batch; ++i) touched[done + i] = (entries[i] >> 62) != 0;
    done += batch;
  }
  return touched;
}

}  // namespace

Result<uint64_t> GuestMemory::save_to_file(int fd) const {
  const uint64_t total = total_size();
  if (::ftruncate(fd, 0) != 0 || ::ftruncate(fd, static_cast<off_t>(total)) != 0)
    return errno_error("memory file: cannot size it");
  const uint64_t pages = total / kPageSize;
  std::vector<bool> touched;
  if (anonymous()) touched = VMHIVE_TRY(touched_pages(pagemap_, mapping_.data(), pages));
  uint64_t written = 0;
  // Runs of non-zero pages go out in one pwrite each.
  uint64_t run_start = 0, run_length = 0;
  auto flush = [&]() -> Result<void> {
    const uint64_t bytes = run_length * kPageSize;
    auto put = pwrite_fully(fd, std::span<const uint8_t>(mapping_.data() + run_start * kPageSize, bytes),
                            run_start * kPageSize);
    if (!put.ok()) return with_context("memory file", put.error());
    written += bytes;
    run_length = 0;
    return {};
  };
  for (uint64_t page = 0; page < pages; ++page) {
    const bool data = (!anonymous() || touched[page]) && !page_is_zero(mapping_.data() + page * kPageSize);
    if (data) {
      if (run_length == 0) run_start = page;
      ++run_length;
    } else if (run_length > 0) {
      VMHIVE_CHECK(flush());
    }
  }
  if (run_length > 0) VMHIVE_CHECK(flush());
  return written;
}

Result<std::span<uint8_t>> GuestMemory::slice(uint64_t gpa, uint64_t len) const {
  for (const auto& region : regions_) {
    if (gpa < region.guest_address) break;
    uint64_t offset = gpa - region.guest_address;
    if (offset >= region.size) continue;
    if (len > region.size - offset) break;
    return std::span<uint8_t>(region.host + offset, len);
  }
  return make_error("guest address range " + hex(gpa) + "+" + hex(len) + " is outside guest RAM");
}

Result<void> GuestMemory::read(uint64_t gpa, std::span<uint8_t> out) const {
  auto view = VMHIVE_TRY(slice(gpa, out.size()));
  if (!out.empty()) std::memcpy(out.data(), view.data(), out.size());
  return {};
}

Result<void> GuestMemory::write(uint64_t gpa, std::span<const uint8_t> data) const {
  auto view = VMHIVE_TRY(slice(gpa, data.size()));
  if (!data.empty()) std::memcpy(view.data(), data.data(), data.size());
  return {};
}

Result<void> GuestMemory::fill(uint64_t gpa, uint8_t value, uint64_t len) const {
  auto view = VMHIVE_TRY(slice(gpa, len));
  if (len != 0) std::memset(view.data(), value, len);
  return {};
}

uint64_t GuestMemory::total_size() const {
  uint64_t total = 0;
  for (const auto& region : regions_) total += region.size;
  return total;
}

}  // namespace vmhive
