#include "devices/virtio/pci_transport.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>

namespace vmhive::virtio {
namespace {

// virtio_pci_cap cfg_type values (§4.1.4).
constexpr uint8_t kCapCommon = 1;
constexpr uint8_t kCapNotify = 2;
constexpr uint8_t kCapIsr = 3;
constexpr uint8_t kCapDevice = 4;
constexpr uint8_t kVendorCapabilityId = 0x09;

constexpr uint16_t kPciVendorVirtio = 0x1af4;
constexpr uint16_t kPciModernDeviceBase = 0x1040;

// virtio_pci_common_cfg field offsets (§4.1.4.3).
constexpr uint64_t kDeviceFeatureSelect = 0x00;
constexpr uint64_t kDeviceFeature = 0x04;
constexpr uint64_t kDriverFeatureSelect = 0x08;
constexpr uint64_t kDriverFeature = 0x0c;
constexpr uint64_t kConfigMsixVector = 0x10;
constexpr uint64_t kNumQueues = 0x12;
constexpr uint64_t kDeviceStatus = 0x14;
constexpr uint64_t kConfigGeneration = 0x15;
constexpr uint64_t kQueueSelect = 0x16;
constexpr uint64_t kQueueSize = 0x18;
constexpr uint64_t kQueueMsixVector = 0x1a;
constexpr uint64_t kQueueEnable = 0x1c;
constexpr uint64_t kQueueNotifyOff = 0x1e;
constexpr uint64_t kQueueDesc = 0x20;
constexpr uint64_t kQueueDriver = 0x28;
constexpr uint64_t kQueueDevice = 0x30;
constexpr uint64_t kCommonConfigSize = 0x38;

uint32_t class_code_for(DeviceType type) {
  switch (type) {
    case DeviceType::kNet: return 0x020000;    // Ethernet controller
    case DeviceType::kBlock: return 0x010000;  // SCSI storage controller, as other VMMs report virtio-blk
    case DeviceType::kEntropy: break;
  }
  return 0x00ff00;  // unclassified
}

std::array<uint8_t, 14> vendor_capability(uint8_t cfg_type, uint64_t offset, uint32_t length, uint8_t extra) {
  std::array<uint8_t, 14> body{};
  body[0] = static_cast<uint8_t>(16 + extra);  // cap_len, counting ID and next
  body[1] = cfg_type;
  body[2] = 0;  // BAR 0
  const uint32_t offset32 = static_cast<uint32_t>(offset);
  std::memcpy(&body[6], &offset32, 4);
  std::memcpy(&body[10], &length, 4);
  return body;
}

bool overlaps(uint64_t offset, size_t length, uint64_t field, uint64_t field_size) {
  return offset < field + field_size && offset + length > field;
}

}  // namespace

PciTransport::PciTransport(VirtioDevice& device, const GuestMemory& memory, pci::MsiSink& interrupts,
                           NotifyRegistrar* notify_registrar)
    : device_(device),
      memory_(memory),
      notify_registrar_(notify_registrar),
      config_(pci::DeviceIdentity{kPciVendorVirtio,
                                  static_cast<uint16_t>(kPciModernDeviceBase + static_cast<uint16_t>(device.type())),
                                  class_code_for(device.type()), 1, kPciVendorVirtio, 0x40}),
      msix_(device.queue_count() + 1, interrupts),
      queue_registers_(device.queue_count()),
      queues_(device.queue_count()) {
  for (auto& queue : queue_registers_) queue.size = device.max_queue_size();
  // Layout fixed at construction: these cannot fail for the sizes used here.
  (void)config_.add_memory_bar(0, kBarSize, false, false);
  const auto common = vendor_capability(kCapCommon, kCommonConfigOffset, kCommonConfigSize, 0);
  const auto isr = vendor_capability(kCapIsr, kIsrOffset, 1, 0);
  const auto device_config = vendor_capability(kCapDevice, kDeviceConfigOffset, 0x1000, 0);
  const auto notify_head =
      vendor_capability(kCapNotify, kNotifyOffset, kNotifyMultiplier * device.queue_count(), 4);
  std::array<uint8_t, 18> notify{};
  std::copy(notify_head.begin(), notify_head.end(), notify.begin());
  std::memcpy(&notify[14], &kNotifyMultiplier, 4);
  (void)config_.add_capability(kVendorCapabilityId, common);
  (void)config_.add_capability(kVendorCapabilityId, notify);
  (void)config_.add_capability(kVendorCapabilityId, isr);
  (void)config_.add_capability(kVendorCapabilityId, device_config);
  const auto msix_body = msix_.capability_body(0, static_cast<uint32_t>(kMsixTableOffset),
                                               static_cast<uint32_t>(kMsixPbaOffset));
  const auto msix_writable = pci::MsixTable::capability_writable();
  auto msix_offset = config_.add_capability(pci::kMsixCapabilityId, msix_body, msix_writable);
  if (msix_offset.ok()) msix_capability_ = *msix_offset;
}

uint64_t PciTransport::offered_features() const {
  return device_.features() | kFeatureVersion1 | kFeatureIndirectDesc | kFeatureEventIdx;
}

void PciTransport::config_written(uint16_t offset, size_t length) {
  if (msix_capability_ != 0 && overlaps(offset, length, msix_capability_ + 2u, 2)) {
    msix_.set_message_control(config_.read16(static_cast<uint16_t>(msix_capability_ + 2)));
  }
}

void PciTransport::bar_read(unsigned bar, uint64_t offset, std::span<uint8_t> data) {
  std::fill(data.begin(), data.end(), 0);
  if (bar != 0) return;
  if (offset < kIsrOffset) {
    std::lock_guard guard(lock_);
    common_read(offset, data);
  } else if (offset < kDeviceConfigOffset) {
    if (offset == kIsrOffset) data[0] = isr_.exchange(0);  // reading clears it (§4.1.4.5)
  } else if (offset < kNotifyOffset) {
    std::lock_guard guard(lock_);
    device_.read_config(offset - kDeviceConfigOffset, data);
  } else if (offset >= kMsixTableOffset && offset < kMsixPbaOffset) {
    msix_.table_read(offset - kMsixTableOffset, data);
  } else if (offset >= kMsixPbaOffset) {
    msix_.pba_read(offset - kMsixPbaOffset, data);
  }
}

void PciTransport::bar_write(unsigned bar, uint64_t offset, std::span<const uint8_t> data) {
  if (bar != 0) return;
  if (offset < kIsrOffset) {
    std::lock_guard guard(lock_);
    common_write(offset, data);
  } else if (offset >= kDeviceConfigOffset && offset < kNotifyOffset) {
    std::lock_guard guard(lock_);
    device_.write_config(offset - kDeviceConfigOffset, data);
  } else if (offset >= kNotifyOffset && offset < kMsixTableOffset) {
    // A doorbell that reached user space (no ioeventfd, or a write of
    // another width): the queue index comes from the address.
    notify_queue(static_cast<unsigned>((offset - kNotifyOffset) / kNotifyMultiplier));
  } else if (offset >= kMsixTableOffset && offset < kMsixPbaOffset) {
    msix_.table_write(offset - kMsixTableOffset, data);
  }
}

void PciTransport::bar_mapped(unsigned bar, std::optional<uint64_t> address) {
  if (bar != 0 || notify_registrar_ == nullptr) return;
  for (unsigned queue = 0; queue < queue_registers_.size(); ++queue) {
    notify_registrar_->set_queue_notify_address(
        queue, address ? std::optional(*address + kNotifyOffset + kNotifyMultiplier * queue) : std::nullopt);
  }
}

void PciTransport::common_read(uint64_t offset, std::span<uint8_t> data) {
  std::array<uint8_t, kCommonConfigSize> image{};
  auto put = [&image](uint64_t at, auto value) { std::memcpy(&image[at], &value, sizeof value); };
  const uint64_t features = offered_features();
  put(kDeviceFeatureSelect, device_feature_select_);
  put(kDeviceFeature, device_feature_select_ < 2 ? static_cast<uint32_t>(features >> (32 * device_feature_select_))
                                                 : uint32_t{0});
  put(kDriverFeatureSelect, driver_feature_select_);
  put(kDriverFeature, driver_feature_select_ < 2
                          ? static_cast<uint32_t>(driver_features_ >> (32 * driver_feature_select_))
                          : uint32_t{0});
  put(kConfigMsixVector, config_vector_);
  put(kNumQueues, static_cast<uint16_t>(queue_registers_.size()));
  put(kDeviceStatus, status_);
  put(kConfigGeneration, config_generation_);
  put(kQueueSelect, queue_select_);
  if (queue_select_ < queue_registers_.size()) {
    const QueueRegisters& queue = queue_registers_[queue_select_];
    put(kQueueSize, queue.size);
    put(kQueueMsixVector, queue.vector);
    put(kQueueEnable, static_cast<uint16_t>(queue.enabled));
    put(kQueueNotifyOff, queue_select_);
    put(kQueueDesc, queue.descriptor_table);
    put(kQueueDriver, queue.available_ring);
    put(kQueueDevice, queue.used_ring);
  }  // a queue that does not exist reads as size 0 (§4.1.4.3)
  if (offset + data.size() <= image.size()) std::memcpy(data.data(), &image[offset], data.size());
}

void PciTransport::common_write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset + data.size() > kCommonConfigSize) return;
  // Lay the write over the current values, then take each writable field the
  // write touched: accesses of any width or alignment behave alike.
  std::array<uint8_t, kCommonConfigSize> image{};
  common_read(0, image);
  std::memcpy(&image[offset], data.data(), data.size());
  auto touched = [&](uint64_t field, uint64_t size) { return overlaps(offset, data.size(), field, size); };
  auto get16 = [&image](uint64_t at) { uint16_t v; std::memcpy(&v, &image[at], 2); return v; };
  auto get32 = [&image](uint64_t at) { uint32_t v; std::memcpy(&v, &image[at], 4); return v; };
  auto get64 = [&image](uint64_t at) { uint64_t v; std::memcpy(&v, &image[at], 8); return v; };

  if (touched(kDeviceFeatureSelect, 4)) device_feature_select_ = get32(kDeviceFeatureSelect);
  if (touched(kDriverFeatureSelect, 4)) driver_feature_select_ = get32(kDriverFeatureSelect);
  if (touched(kDriverFeature, 4) && driver_feature_select_ < 2 && !(status_ & kStatusFeaturesOk)) {
    const unsigned shift = 32 * driver_feature_select_;
    driver_features_ = (driver_features_ & ~(0xffffffffull << shift)) | (uint64_t{get32(kDriverFeature)} << shift);
  }
  if (touched(kConfigMsixVector, 2)) config_vector_ = checked_vector(get16(kConfigMsixVector));
  if (touched(kQueueSelect, 2)) queue_select_ = get16(kQueueSelect);
  if (queue_select_ < queue_registers_.size() && !(status_ & kStatusDriverOk)) {
    QueueRegisters& queue = queue_registers_[queue_select_];
    // Queue registers are fixed once the queue is enabled (§4.1.4.3.2).
    if (!queue.enabled) {
      if (touched(kQueueSize, 2)) queue.size = std::min(get16(kQueueSize), device_.max_queue_size());
      if (touched(kQueueDesc, 8)) queue.descriptor_table = get64(kQueueDesc);
      if (touched(kQueueDriver, 8)) queue.available_ring = get64(kQueueDriver);
      if (touched(kQueueDevice, 8)) queue.used_ring = get64(kQueueDevice);
    }
    if (touched(kQueueEnable, 2) && get16(kQueueEnable) == 1) queue.enabled = true;
  }
  if (queue_select_ < queue_registers_.size() && touched(kQueueMsixVector, 2)) {
    queue_registers_[queue_select_].vector = checked_vector(get16(kQueueMsixVector));
  }
  if (touched(kDeviceStatus, 1)) write_status(image[kDeviceStatus]);
}

uint16_t PciTransport::checked_vector(uint16_t vector) const {
  // A vector the table does not have maps to nothing, and reads back as
  // NO_VECTOR so the driver sees the failure (§4.1.5.1.2).
  return vector < msix_.vector_count() ? vector : kNoVector;
}

void PciTransport::write_status(uint8_t value) {
  if (value == 0) {
    reset();
    return;
  }
  const uint8_t newly_set = static_cast<uint8_t>(value & ~status_);
  status_ = static_cast<uint8_t>(value | (status_ & kStatusNeedsReset));
  if (newly_set & kStatusFeaturesOk) {
    // Accept only what was offered, and only the 1.x interface.
    const bool acceptable =
        (driver_features_ & ~offered_features()) == 0 && (driver_features_ & kFeatureVersion1) != 0;
    if (!acceptable) status_ &= static_cast<uint8_t>(~kStatusFeaturesOk);
  }
  if ((newly_set & kStatusDriverOk) && (status_ & kStatusFeaturesOk)) start_queues();
}

void PciTransport::start_queues() {
  for (unsigned index = 0; index < queue_registers_.size(); ++index) {
    const QueueRegisters& registers = queue_registers_[index];
    if (!registers.enabled) continue;
    VirtqueueState state;
    state.size = registers.size;
    state.descriptor_table = registers.descriptor_table;
    state.available_ring = registers.available_ring;
    state.used_ring = registers.used_ring;
    auto queue = Virtqueue::create(memory_, state, driver_features_);
    if (!queue.ok()) {
      fail("queue " + std::to_string(index) + ": " + queue.error().message);
      return;
    }
    queues_[index].emplace(std::move(*queue));
  }
  if (auto activated = device_.activate(driver_features_); !activated.ok()) {
    fail(activated.error().message);
    return;
  }
  for (unsigned index = 0; index < queues_.size(); ++index) {
    if (queues_[index]) serve_queue(index);  // requests made available before DRIVER_OK
  }
}

void PciTransport::reset() {
  device_.reset();
  device_feature_select_ = driver_feature_select_ = 0;
  driver_features_ = 0;
  config_vector_ = kNoVector;
  status_ = 0;
  queue_select_ = 0;
  for (auto& queue : queue_registers_) queue = QueueRegisters{device_.max_queue_size()};
  for (auto& queue : queues_) queue.reset();
  isr_ = 0;
}

void PciTransport::notify_queue(unsigned index) {
  std::lock_guard guard(lock_);
  serve_queue(index);
}

bool PciTransport::poll_queues() {
  std::lock_guard guard(lock_);
  bool served = false;
  for (unsigned index = 0; index < queues_.size(); ++index) {
    if (queues_[index] && queues_[index]->has_available()) served |= serve_queue(index, true);
    if (queues_[index]) queues_[index]->set_notifications(false);
  }
  return served;
}

void PciTransport::stop_polling() {
  std::lock_guard guard(lock_);
  for (unsigned index = 0; index < queues_.size(); ++index) serve_queue(index);
}

bool PciTransport::serve_queue(unsigned index, bool polling) {
  if (!(status_ & kStatusDriverOk) || (status_ & kStatusNeedsReset)) return false;
  if (index >= queues_.size() || !queues_[index]) return false;
  Virtqueue& queue = *queues_[index];
  bool used = false;
  // Serve with notifications off, then turn them on and look once more: a
  // request made available in between is not left behind (§2.7.10). A
  // device may leave buffers unused (a receive queue waiting for frames);
  // then it is done until its backend or the driver has something new.
  for (;;) {
    const uint16_t taken_before = queue.state().next_available;
    const uint16_t published_before = queue.published_index();
    queue.set_notifications(false);
    auto served = device_.process_queue(index, queue);
    if (!served.ok()) {
      fail("queue " + std::to_string(index) + ": " + served.error().message);
      return true;
    }
    used = used || *served;
    if (!polling) queue.set_notifications(true);
    if (!queue.has_available()) break;
    // Buffers the device left alone (a receive queue waiting for frames) do
    // not make it go round again; buffers published meanwhile do.
    if (queue.state().next_available == taken_before && queue.published_index() == published_before) break;
  }
  if (used && queue.should_interrupt()) interrupt_queue(index);
  return used;
}

void PciTransport::fail(const std::string& why) {
  if (!(status_ & kStatusNeedsReset)) {
    failures_log_.write(std::string(type_name(device_.type())) + ": " + why + "; the device needs a reset");
  }
  failure_ = why;
  status_ |= kStatusNeedsReset;
  for (auto& queue : queues_) queue.reset();
  interrupt_config();
}

void PciTransport::interrupt_queue(unsigned index) {
  isr_.fetch_or(1);
  const uint16_t vector = queue_registers_[index].vector;
  if (vector != kNoVector) msix_.notify(vector);
}

void PciTransport::interrupt_config() {
  ++config_generation_;
  isr_.fetch_or(2);
  if (config_vector_ != kNoVector) msix_.notify(config_vector_);
}

PciTransport::State PciTransport::state() const {
  std::lock_guard guard(lock_);
  State state;
  state.config_space.assign(config_.bytes().begin(), config_.bytes().end());
  state.msix = msix_.state();
  state.device_feature_select = device_feature_select_;
  state.driver_feature_select = driver_feature_select_;
  state.driver_features = driver_features_;
  state.config_vector = config_vector_;
  state.status = status_;
  state.config_generation = config_generation_;
  state.queue_select = queue_select_;
  state.isr = isr_.load();
  for (unsigned index = 0; index < queue_registers_.size(); ++index) {
    const QueueRegisters& registers = queue_registers_[index];
    QueueState queue;
    queue.size = registers.size;
    queue.vector = registers.vector;
    queue.enabled = registers.enabled;
    queue.started = queues_[index].has_value();
    queue.rings = queues_[index] ? queues_[index]->state()
                                 : VirtqueueState{registers.size, registers.descriptor_table,
                                                  registers.available_ring, registers.used_ring, 0, 0, 0};
    state.queues.push_back(queue);
  }
  return state;
}

Result<void> PciTransport::State::check() const {
  if (config_space.size() != pci::kConfigSpaceSize)
    return make_error("configuration space of " + std::to_string(config_space.size()) + " bytes");
  return {};
}

Result<void> PciTransport::restore(const State& state) {
  std::lock_guard guard(lock_);
  const std::string device = type_name(device_.type());
  // Everything is checked first, the queues built aside: a state this device
  // cannot take changes nothing.
  if (state.queues.size() != queue_registers_.size())
    return make_error(device + ": " + std::to_string(state.queues.size()) + " queues saved, the device has " +
                      std::to_string(queue_registers_.size()));
  if ((state.driver_features & ~offered_features()) != 0)
    return make_error(device + ": the driver negotiated features this device does not offer");
  if (auto checked = config_.check_restore(state.config_space); !checked.ok()) return with_context(device, checked.error());
  if (auto checked = msix_.check_restore(state.msix); !checked.ok()) return with_context(device, checked.error());
  const bool running = (state.status & kStatusDriverOk) && (state.status & kStatusFeaturesOk) &&
                       !(state.status & kStatusNeedsReset);
  std::vector<std::optional<Virtqueue>> queues(queue_registers_.size());
  for (unsigned index = 0; index < queue_registers_.size(); ++index) {
    const QueueState& saved = state.queues[index];
    const std::string queue_name = device + " queue " + std::to_string(index);
    if (saved.size > device_.max_queue_size() || saved.rings.size != saved.size)
      return make_error(queue_name + ": size " + std::to_string(saved.size) + " (at most " +
                        std::to_string(device_.max_queue_size()) + ")");
    if (!saved.started) continue;
    if (!running || !saved.enabled) return make_error(queue_name + " runs while the device does not");
    auto queue = Virtqueue::create(memory_, saved.rings, state.driver_features);
    if (!queue.ok()) return make_error(queue_name + ": " + queue.error().message);
    queues[index].emplace(std::move(*queue));
  }

  VMHIVE_CHECK(config_.restore(state.config_space));
  VMHIVE_CHECK(msix_.restore(state.msix));
  device_feature_select_ = state.device_feature_select;
  driver_feature_select_ = state.driver_feature_select;
  driver_features_ = state.driver_features;
  config_vector_ = checked_vector(state.config_vector);
  status_ = state.status;
  config_generation_ = state.config_generation;
  queue_select_ = state.queue_select;
  isr_ = state.isr & 3;
  for (unsigned index = 0; index < queue_registers_.size(); ++index) {
    const QueueState& saved = state.queues[index];
    QueueRegisters& registers = queue_registers_[index];
    registers.size = saved.size;
    registers.vector = checked_vector(saved.vector);
    registers.enabled = saved.enabled;
    registers.descriptor_table = saved.rings.descriptor_table;
    registers.available_ring = saved.rings.available_ring;
    registers.used_ring = saved.rings.used_ring;
  }
  queues_ = std::move(queues);
  if (running) {
    if (auto activated = device_.activate(driver_features_); !activated.ok()) {
      // The device refused what the driver had negotiated: back to reset,
      // as a driver would find a device it must set up again.
      reset();
      return make_error(device + ": " + activated.error().message);
    }
  }
  return {};
}

uint8_t PciTransport::status() const {
  std::lock_guard guard(lock_);
  return status_;
}

std::string PciTransport::failure() const {
  std::lock_guard guard(lock_);
  return failure_;
}

}  // namespace vmhive::virtio
