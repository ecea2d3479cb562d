// A VM's counters file (`vmhive run|restore --counters-file PATH`): the VM
// process keeps its live counters in a small file it maps shared, so that
// its daemon can read them without waking it (a scrape of thousands of VMs
// would otherwise wake every one). The VM writes it; the daemon only reads
// it, with pread, never mapping it (a VM could truncate it under a mapping).
//
// Layout, version 1: little-endian 64-bit words.
//   [0] kCountersMagic   [1] version   [2] vCPUs (V)   [3] devices (D)
//   V vCPU blocks of 9 words:  thread id (0 until the thread runs),
//       exits: io, mmio, signal, msr_write, debug, other, internal_error,
//       then SYSCALLs finished (KVM-PVM)
//   D device blocks of 8 words: device type (virtio ID), index among its
//       type, in_requests, in_bytes, out_requests, out_bytes,
//       other_requests, failed
// Words are written while the VM runs, each atomically; a reader may see
// one counter a little newer than another, never a torn word.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "control/vm_controller.h"

namespace vmhive::control {

inline constexpr uint64_t kCountersMagic = 0x53524554'4e554f43;  // "COUNTERS"
inline constexpr uint64_t kCountersVersion = 1;
inline constexpr size_t kCountersHeaderWords = 4;
inline constexpr size_t kVcpuBlockWords = 9;
inline constexpr size_t kDeviceBlockWords = 8;
inline constexpr uint64_t kMaxCounterVcpus = 256;
inline constexpr uint64_t kMaxCounterDevices = 64;

// Bytes of a file for `vcpus` and `devices`.
constexpr size_t counters_file_bytes(size_t vcpus, size_t devices) {
  return 8 * (kCountersHeaderWords + vcpus * kVcpuBlockWords + devices * kDeviceBlockWords);
}
// The largest file a reader takes.
inline constexpr size_t kMaxCountersFileBytes = counters_file_bytes(kMaxCounterVcpus, kMaxCounterDevices);

// The names of the exit words of a vCPU block, in order (without the thread id).
inline constexpr const char* kCounterExitNames[] = {"io",    "mmio",  "signal", "msr_write",
                                                   "debug", "other", "internal_error"};

// What a counters file says: the stats (VmStats without vCPU time, which
// the reader adds from the threads' scheduler statistics) and the vCPU
// threads' ids (0 for a thread not running yet).
struct CountersSnapshot {
  VmStats stats;
  std::vector<int64_t> vcpu_threads;
};

// Reads the bytes of a counters file; anything but a whole, well-formed
// file of a known version is an error (it is a VM's to write).
Result<CountersSnapshot> parse_counters_file(std::span<const uint8_t> bytes);

// The device kind's name for a virtio device type ("virtio-blk"); empty
// for a type vmhive does not make.
std::string counter_device_kind(uint64_t type);

}  // namespace vmhive::control
