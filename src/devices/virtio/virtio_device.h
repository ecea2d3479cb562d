// What a virtio device model implements (virtio 1.2 §2, §5), independent of
// the transport that carries it: its type, features, configuration layout,
// and what to do with a queue the driver has put requests on.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "common/result.h"
#include "devices/virtio/device_persistence.h"
#include "devices/virtio/virtqueue.h"

namespace vmhive::virtio {

inline constexpr uint64_t kFeatureVersion1 = 1ull << 32;

// Device status bits (§2.1).
inline constexpr uint8_t kStatusAcknowledge = 1;
inline constexpr uint8_t kStatusDriver = 2;
inline constexpr uint8_t kStatusDriverOk = 4;
inline constexpr uint8_t kStatusFeaturesOk = 8;
inline constexpr uint8_t kStatusNeedsReset = 64;
inline constexpr uint8_t kStatusFailed = 128;

enum class DeviceType : uint16_t { kNet = 1, kBlock = 2, kEntropy = 4 };

// "virtio-blk", "virtio-net", "virtio-rng", for messages.
inline const char* type_name(DeviceType type) {
  switch (type) {
    case DeviceType::kNet: return "virtio-net";
    case DeviceType::kBlock: return "virtio-blk";
    case DeviceType::kEntropy: return "virtio-rng";
  }
  return "virtio device";
}

// A host descriptor that becomes readable when a device has work for one of
// its queues without a notification from the driver (frames on a tap).
struct BackendWatch {
  int fd;
  unsigned queue;
};

// What a device has done for its driver since the VMM built it (not kept in
// snapshots: a restored VM counts from zero). "In" is toward the guest (disk
// reads, frames received, entropy), "out" is from it (disk writes, frames
// sent).
struct DeviceTraffic {
  uint64_t in_requests = 0;
  uint64_t in_bytes = 0;
  uint64_t out_requests = 0;
  uint64_t out_bytes = 0;
  uint64_t other_requests = 0;  // flushes, discards, write-zeroes, identify
  uint64_t failed = 0;          // requests answered with an error, frames lost
};

// The counters behind DeviceTraffic: bumped on the thread that serves the
// queue, read from any thread (relaxed: each is a statistic on its own).
class TrafficCounters {
 public:
  void count_in(uint64_t bytes) { add(in_requests_, 1), add(in_bytes_, bytes); }
  void count_out(uint64_t bytes) { add(out_requests_, 1), add(out_bytes_, bytes); }
  void count_other() { add(other_requests_, 1); }
  void count_failed() { add(failed_, 1); }
  DeviceTraffic read() const {
    return {in_requests_.load(std::memory_order_relaxed),    in_bytes_.load(std::memory_order_relaxed),
            out_requests_.load(std::memory_order_relaxed),   out_bytes_.load(std::memory_order_relaxed),
            other_requests_.load(std::memory_order_relaxed), failed_.load(std::memory_order_relaxed)};
  }

 private:
  static void add(std::atomic<uint64_t>& counter, uint64_t amount) {
    counter.fetch_add(amount, std::memory_order_relaxed);
  }
  std::atomic<uint64_t> in_requests_{0}, in_bytes_{0}, out_requests_{0}, out_bytes_{0}, other_requests_{0},
      failed_{0};
};
static_assert(sizeof(TrafficCounters) == 6 * sizeof(uint64_t) && std::atomic<uint64_t>::is_always_lock_free,
              "a counters file holds TrafficCounters as six 64-bit words");

class VirtioDevice {
 public:
  virtual ~VirtioDevice() = default;

  virtual DeviceType type() const = 0;
  // Device-specific feature bits; the transport adds VERSION_1, INDIRECT_DESC
  // and EVENT_IDX, which the queue code implements for every device.
  virtual uint64_t features() const = 0;
  virtual unsigned queue_count() const = 0;
  virtual uint16_t max_queue_size() const { return 256; }

  // The device-specific configuration structure (§5.x.4). Reads past its end
  // give zeros; writes to read-only fields are ignored.
  virtual void read_config(uint64_t offset, std::span<uint8_t> data) const = 0;
  virtual void write_config(uint64_t /*offset*/, std::span<const uint8_t> /*data*/) {}

  // The driver set DRIVER_OK with these features (a subset of what was
  // offered); an error fails the device (the transport sets NEEDS_RESET).
  virtual Result<void> activate(uint64_t negotiated_features) = 0;
  // Back to the state before activate(): the driver reset the device.
  virtual void reset() = 0;

  // Serve what the driver made available on queue `index`. Returns whether
  // anything was used (so the transport considers an interrupt); an error
  // means the ring is malformed and the device needs a reset. Called with the
  // transport's lock held, from the device thread or a vCPU.
  virtual Result<bool> process_queue(unsigned index, Virtqueue& queue) = 0;

  // Watched edge-triggered by the device thread; none by default.
  virtual std::optional<BackendWatch> backend_watch() const { return std::nullopt; }

  // The device's own persisted state (what a restore needs besides the
  // transport's registers), encoded by the device's persist code and read
  // back by its entry in device_kinds.h. Called with the device paused.
  virtual Result<std::vector<uint8_t>> save(const DeviceSaveContext& context) = 0;

  // What the device has done so far (DeviceTraffic).
  DeviceTraffic traffic() const { return counters_->read(); }
  // Count into `counters` from now on (a counters file's slot, say); call
  // before the device serves its driver. It must outlive the device's use.
  void count_into(TrafficCounters* counters) { counters_ = counters; }

 protected:
  TrafficCounters& counters() { return *counters_; }

 private:
  TrafficCounters own_counters_;
  TrafficCounters* counters_ = &own_counters_;
};

}  // namespace vmhive::virtio
