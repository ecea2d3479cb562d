// KVM structs that end in a flexible array, laid out as the kernel (C) sees them.
//
// Linux's UAPI headers declare those arrays with __DECLARE_FLEX_ARRAY, which
// puts an empty struct before the array. An empty struct is 0 bytes in C and
// 1 byte in C++, so in C++ `kvm_cpuid2::entries` sits at offset 12 instead of
// 8 (kvm_msrs: 16 for 8, kvm_msr_list: 8 for 4), and the ioctl numbers, which
// encode sizeof(struct), come out wrong (EINVAL). vmhive therefore builds
// these buffers by hand at the C offsets and uses the numbers below.
#pragma once

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace vmhive::kvm::ioctls {

inline constexpr unsigned long kCpuid2HeaderSize = 8;   // nent, padding
inline constexpr unsigned long kMsrsHeaderSize = 8;     // nmsrs, pad
inline constexpr unsigned long kMsrListHeaderSize = 4;  // nmsrs
inline constexpr unsigned long kIrqRoutingHeaderSize = 8;  // nr, flags

inline constexpr unsigned long kGetSupportedCpuid = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x05, kCpuid2HeaderSize);
inline constexpr unsigned long kSetCpuid2 = _IOC(_IOC_WRITE, KVMIO, 0x90, kCpuid2HeaderSize);
inline constexpr unsigned long kGetMsrs = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x88, kMsrsHeaderSize);
inline constexpr unsigned long kSetMsrs = _IOC(_IOC_WRITE, KVMIO, 0x89, kMsrsHeaderSize);
inline constexpr unsigned long kGetMsrIndexList = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x02, kMsrListHeaderSize);
inline constexpr unsigned long kSetGsiRouting = _IOC(_IOC_WRITE, KVMIO, 0x6a, kIrqRoutingHeaderSize);

// struct kvm_xsave (4 KiB, then a flexible array): C++ gets its size wrong too.
inline constexpr unsigned long kXsaveSize = 4096;
inline constexpr unsigned long kGetXsave = _IOC(_IOC_READ, KVMIO, 0xa4, kXsaveSize);
inline constexpr unsigned long kSetXsave = _IOC(_IOC_WRITE, KVMIO, 0xa5, kXsaveSize);

// The values C code gets from <linux/kvm.h> on x86-64.
static_assert(kGetXsave == 0x9000aea4);
static_assert(kSetXsave == 0x5000aea5);
static_assert(kGetSupportedCpuid == 0xc008ae05);
static_assert(kSetCpuid2 == 0x4008ae90);
static_assert(kGetMsrs == 0xc008ae88);
static_assert(kSetMsrs == 0x4008ae89);
static_assert(kGetMsrIndexList == 0xc004ae02);

// A kernel list: a header of `HeaderSize` bytes whose first u32 is the count,
// then the entries. Owns its buffer.
template <class Entry, unsigned long HeaderSize>
class KernelList {
 public:
  explicit KernelList(uint32_t count) : bytes_(HeaderSize + count * sizeof(Entry), 0) { set_count(count); }
  void* data() { return bytes_.data(); }
  uint32_t count() const {
    uint32_t count;
    std::memcpy(&count, bytes_.data(), sizeof count);
    return count;
  }
  void set_count(uint32_t count) { std::memcpy(bytes_.data(), &count, sizeof count); }
  Entry* entries() { return reinterpret_cast<Entry*>(bytes_.data() + HeaderSize); }
  uint32_t capacity() const { return static_cast<uint32_t>((bytes_.size() - HeaderSize) / sizeof(Entry)); }

 private:
  std::vector<uint8_t> bytes_;
};

using CpuidList = KernelList<kvm_cpuid_entry2, kCpuid2HeaderSize>;
using MsrList = KernelList<kvm_msr_entry, kMsrsHeaderSize>;
using MsrIndexList = KernelList<uint32_t, kMsrListHeaderSize>;

}  // namespace vmhive::kvm::ioctls
