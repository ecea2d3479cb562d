// The VM's side of its counters file (control/counters_file.h): the file
// made new (0600, never over anything, no link followed), sized and mapped
// shared, with the vCPUs' exit counters and the devices' traffic counters
// living in it, so that what the VM counts is what its daemon reads.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>

#include "common/mapping.h"
#include "common/result.h"
#include "devices/virtio/virtio_device.h"
#include "vmm/vcpu_loop.h"

namespace vmhive {

class CountersPage {
 public:
  struct Device {
    virtio::DeviceType type;
    unsigned index;  // among the VM's devices of its type
  };
  static Result<CountersPage> create(const std::string& path, size_t vcpus, std::span<const Device> devices);

  // The slots (the mapping is the VM's to write, whatever const says here).
  ExitCounters* exits(size_t vcpu) const;
  std::atomic<uint64_t>* thread_id(size_t vcpu) const;
  virtio::TrafficCounters* traffic(size_t device) const;

 private:
  CountersPage(Mapping mapping, size_t vcpus) : mapping_(std::move(mapping)), vcpus_(vcpus) {}
  uint8_t* word(size_t index) const { return mapping_.data() + index * 8; }

  Mapping mapping_;
  size_t vcpus_;
};

}  // namespace vmhive
