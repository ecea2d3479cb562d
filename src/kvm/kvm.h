// /dev/kvm: the system-level handle. This folder is the only place in vmhive
// that issues KVM ioctls.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace vmhive::kvm {

// Which engine does the CPU virtualization underneath KVM. It decides the
// default CPU template: PVM emulates guest ring 0 and cannot run everything.
enum class Backend { kVmx, kSvm, kPvm, kUnknown };
const char* backend_name(Backend backend);

// A KVM capability vmhive relies on, with the name a user can look up.
struct Capability {
  int id;
  const char* name;
};

class Kvm {
 public:
  // Opens the device, checks the API version and every capability in
  // required_capabilities(); the error names what is missing.
  static Result<Kvm> open(const std::string& path = "/dev/kvm");

  int fd() const { return fd_.get(); }
  int check_extension(int capability) const;
  Backend backend() const { return backend_; }
  int max_vcpus() const;
  int recommended_vcpus() const;
  size_t vcpu_mmap_size() const { return vcpu_mmap_size_; }

  // KVM_GET_SUPPORTED_CPUID: what this host and KVM can show a guest.
  Result<std::vector<kvm_cpuid_entry2>> supported_cpuid() const;
  // KVM_GET_MSR_INDEX_LIST: the MSRs KVM saves and restores.
  Result<std::vector<uint32_t>> msr_index_list() const;

  static const std::vector<Capability>& required_capabilities();

 private:
  Kvm(UniqueFd fd, Backend backend, size_t vcpu_mmap_size)
      : fd_(std::move(fd)), backend_(backend), vcpu_mmap_size_(vcpu_mmap_size) {}

  UniqueFd fd_;
  Backend backend_;
  size_t vcpu_mmap_size_;
};

// Reads the host to tell PVM from VMX/SVM (kvm_pvm, kvm_intel, kvm_amd modules).
Backend detect_backend();

}  // namespace vmhive::kvm
