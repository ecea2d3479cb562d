#include "vmm/counters_page.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <new>

#include "common/errno_error.h"
#include "common/unique_fd.h"
#include "control/counters_file.h"

namespace vmhive {

static_assert(sizeof(ExitCounters) == 8 * sizeof(uint64_t), "a vCPU block holds ExitCounters as eight words");

Result<CountersPage> CountersPage::create(const std::string& path, size_t vcpus, std::span<const Device> devices) {
  if (vcpus == 0 || vcpus > control::kMaxCounterVcpus || devices.size() > control::kMaxCounterDevices)
    return make_error("--counters-file: too many vCPUs or devices to count");
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return errno_error("--counters-file: cannot create", path);
  const size_t bytes = control::counters_file_bytes(vcpus, devices.size());
  if (::ftruncate(fd.get(), static_cast<off_t>(bytes)) != 0) return errno_error("--counters-file: cannot size", path);
  void* mapped = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (mapped == MAP_FAILED) return errno_error("--counters-file: cannot map", path);
  CountersPage page(Mapping(mapped, bytes), vcpus);
  const uint64_t header[] = {control::kCountersMagic, control::kCountersVersion, vcpus, devices.size()};
  std::memcpy(page.word(0), header, sizeof header);
  for (size_t vcpu = 0; vcpu < vcpus; ++vcpu) {
    new (page.word(control::kCountersHeaderWords + vcpu * control::kVcpuBlockWords)) std::atomic<uint64_t>(0);
    new (page.exits(vcpu)) ExitCounters();
  }
  for (size_t device = 0; device < devices.size(); ++device) {
    const size_t at = control::kCountersHeaderWords + vcpus * control::kVcpuBlockWords + device * control::kDeviceBlockWords;
    const uint64_t identity[] = {static_cast<uint64_t>(devices[device].type), devices[device].index};
    std::memcpy(page.word(at), identity, sizeof identity);
    new (page.traffic(device)) virtio::TrafficCounters();
  }
  return page;
}

std::atomic<uint64_t>* CountersPage::thread_id(size_t vcpu) const {
  return std::launder(
      reinterpret_cast<std::atomic<uint64_t>*>(word(control::kCountersHeaderWords + vcpu * control::kVcpuBlockWords)));
}

ExitCounters* CountersPage::exits(size_t vcpu) const {
  return std::launder(
      reinterpret_cast<ExitCounters*>(word(control::kCountersHeaderWords + vcpu * control::kVcpuBlockWords + 1)));
}

virtio::TrafficCounters* CountersPage::traffic(size_t device) const {
  const size_t at = control::kCountersHeaderWords + vcpus_ * control::kVcpuBlockWords + device * control::kDeviceBlockWords;
  return std::launder(reinterpret_cast<virtio::TrafficCounters*>(word(at + 2)));
}

}  // namespace vmhive
