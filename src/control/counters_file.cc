#include "control/counters_file.h"

#include <cstring>

namespace vmhive::control {
namespace {

uint64_t word_at(std::span<const uint8_t> bytes, size_t index) {
  uint64_t word;
  std::memcpy(&word, bytes.data() + index * 8, 8);
  return word;
}

}  // namespace

std::string counter_device_kind(uint64_t type) {
  switch (type) {
    case 1: return "virtio-net";
    case 2: return "virtio-blk";
    case 4: return "virtio-rng";
    default: return {};
  }
}

Result<CountersSnapshot> parse_counters_file(std::span<const uint8_t> bytes) {
  if (bytes.size() < kCountersHeaderWords * 8) return make_error("counters file: shorter than its header");
  if (word_at(bytes, 0) != kCountersMagic) return make_error("counters file: not one (its magic number)");
  if (word_at(bytes, 1) != kCountersVersion)
    return make_error("counters file: version " + std::to_string(word_at(bytes, 1)) + " is not 1");
  const uint64_t vcpus = word_at(bytes, 2);
  const uint64_t devices = word_at(bytes, 3);
  if (vcpus == 0 || vcpus > kMaxCounterVcpus || devices > kMaxCounterDevices)
    return make_error("counters file: " + std::to_string(vcpus) + " vCPUs and " + std::to_string(devices) +
                      " devices is out of range");
  if (bytes.size() < counters_file_bytes(vcpus, devices)) return make_error("counters file: truncated");

  CountersSnapshot snapshot;
  constexpr size_t kExits = std::size(kCounterExitNames);
  std::vector<uint64_t> exits(kExits, 0);
  size_t at = kCountersHeaderWords;
  for (uint64_t vcpu = 0; vcpu < vcpus; ++vcpu, at += kVcpuBlockWords) {
    snapshot.vcpu_threads.push_back(static_cast<int64_t>(word_at(bytes, at)));
    for (size_t exit = 0; exit < kExits; ++exit) exits[exit] += word_at(bytes, at + 1 + exit);
  }
  for (size_t exit = 0; exit < kExits; ++exit) snapshot.stats.exits.emplace_back(kCounterExitNames[exit], exits[exit]);
  for (uint64_t device = 0; device < devices; ++device, at += kDeviceBlockWords) {
    const std::string kind = counter_device_kind(word_at(bytes, at));
    if (kind.empty()) return make_error("counters file: device type " + std::to_string(word_at(bytes, at)) + " unknown");
    const uint64_t index = word_at(bytes, at + 1);
    if (index >= kMaxCounterDevices) return make_error("counters file: device index out of range");
    snapshot.stats.devices.push_back({kind, static_cast<unsigned>(index), word_at(bytes, at + 2), word_at(bytes, at + 3),
                                      word_at(bytes, at + 4), word_at(bytes, at + 5), word_at(bytes, at + 6),
                                      word_at(bytes, at + 7)});
  }
  return snapshot;
}

}  // namespace vmhive::control
