#include "memory/guest_memory.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace vmhive {
namespace {

constexpr uint64_t kPageSize = 4096;

std::string hex(uint64_t value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(value));
  return buf;
}

}  // namespace

Result<GuestMemory> GuestMemory::create(const std::vector<MemoryRegion>& regions) {
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
  void* addr = ::mmap(nullptr, total, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (addr == MAP_FAILED)
    return make_error("guest memory: cannot map " + std::to_string(total >> 20) +
                      " MiB of RAM: " + std::strerror(errno));
  Mapping mapping(addr, total);
  std::vector<HostRegion> host_regions;
  uint64_t offset = 0;
  for (const auto& region : regions) {
    host_regions.push_back({region.guest_address, region.size, mapping.data() + offset});
    offset += region.size;
  }
  return GuestMemory(std::move(mapping), std::move(host_regions));
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
