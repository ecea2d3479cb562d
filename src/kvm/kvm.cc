#include "kvm/kvm.h"

#include "common/errno_error.h"
#include "kvm/ioctl_numbers.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <memory>

namespace vmhive::kvm {
namespace {

constexpr int kExpectedApiVersion = 12;  // KVM_API_VERSION, stable since Linux 2.6.22

bool path_exists(const char* path) {
  struct stat info {};
  return ::stat(path, &info) == 0;
}

}  // namespace

const char* backend_name(Backend backend) {
  switch (backend) {
    case Backend::kVmx: return "vmx";
    case Backend::kSvm: return "svm";
    case Backend::kPvm: return "pvm";
    case Backend::kUnknown: break;
  }
  return "unknown";
}

Backend detect_backend() {
  if (path_exists("/sys/module/kvm_pvm")) return Backend::kPvm;
  if (path_exists("/sys/module/kvm_intel")) return Backend::kVmx;
  if (path_exists("/sys/module/kvm_amd")) return Backend::kSvm;
  return Backend::kUnknown;
}

const std::vector<Capability>& Kvm::required_capabilities() {
  static const std::vector<Capability> capabilities = {
      {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
      {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
      {KVM_CAP_PIT2, "KVM_CAP_PIT2"},
      {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
      {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
      {KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR"},
      {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
      {KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE"},
      {KVM_CAP_GET_MSR_FEATURES, "KVM_CAP_GET_MSR_FEATURES"},
  };
  return capabilities;
}

Result<Kvm> Kvm::open(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid()) {
    int error = errno;
    std::string hint = error == ENOENT   ? " (is the kvm module loaded? is this host virtualization-capable?)"
                       : error == EACCES ? " (run as root or join the group that owns it)"
                                         : "";
    Error failed = error_from_code(error, "cannot open", path);
    failed.message += hint;
    return failed;
  }
  int version = ::ioctl(fd.get(), KVM_GET_API_VERSION, 0);
  if (version != kExpectedApiVersion)
    return make_error(path + " speaks KVM API version " + std::to_string(version) + ", vmhive needs " +
                      std::to_string(kExpectedApiVersion));
  std::string missing;
  for (const auto& capability : required_capabilities()) {
    if (::ioctl(fd.get(), KVM_CHECK_EXTENSION, capability.id) <= 0)
      missing += (missing.empty() ? "" : ", ") + std::string(capability.name);
  }
  if (!missing.empty()) return make_error("this host's KVM lacks capabilities vmhive needs: " + missing);
  int mmap_size = ::ioctl(fd.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
  if (mmap_size < static_cast<int>(sizeof(kvm_run)))
    return errno_error("KVM_GET_VCPU_MMAP_SIZE failed");
  return Kvm(std::move(fd), detect_backend(), static_cast<size_t>(mmap_size));
}

int Kvm::check_extension(int capability) const {
  int result = ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, capability);
  return result < 0 ? 0 : result;
}

int Kvm::max_vcpus() const {
  int max = check_extension(KVM_CAP_MAX_VCPUS);
  return max > 0 ? max : recommended_vcpus();
}

int Kvm::recommended_vcpus() const {
  int recommended = check_extension(KVM_CAP_NR_VCPUS);
  return recommended > 0 ? recommended : 4;  // the API's documented fallback
}

Result<std::vector<kvm_cpuid_entry2>> Kvm::supported_cpuid() const {
  // The ioctl reports E2BIG until the buffer is large enough.
  for (uint32_t capacity = 128; capacity <= 4096; capacity *= 2) {
    ioctls::CpuidList list(capacity);
    if (::ioctl(fd_.get(), ioctls::kGetSupportedCpuid, list.data()) == 0)
      return std::vector<kvm_cpuid_entry2>(list.entries(), list.entries() + std::min(list.count(), capacity));
    if (errno != E2BIG) return errno_error("KVM_GET_SUPPORTED_CPUID failed");
  }
  return make_error("KVM_GET_SUPPORTED_CPUID: more than 4096 entries");
}

Result<std::vector<uint32_t>> Kvm::msr_index_list() const {
  ioctls::MsrIndexList probe(0);
  if (::ioctl(fd_.get(), ioctls::kGetMsrIndexList, probe.data()) < 0 && errno != E2BIG)
    return errno_error("KVM_GET_MSR_INDEX_LIST failed");
  ioctls::MsrIndexList list(probe.count());
  if (::ioctl(fd_.get(), ioctls::kGetMsrIndexList, list.data()) < 0)
    return errno_error("KVM_GET_MSR_INDEX_LIST failed");
  return std::vector<uint32_t>(list.entries(), list.entries() + std::min(list.count(), list.capacity()));
}

}  // namespace vmhive::kvm
