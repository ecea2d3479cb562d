#include "vmm/pci_platform.h"

#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <string>

#include "arch/x86/layout.h"
#include "devices/virtio/block/block_device.h"
#include "devices/virtio/block/disk_copy.h"
#include "devices/virtio/net/net_device.h"
#include "devices/virtio/rng/entropy_device.h"

namespace vmhive {
namespace {

// 52:54:00 (a locally administered prefix that other VMMs use too) and three random bytes.
std::array<uint8_t, 6> random_mac() {
  std::array<uint8_t, 6> mac{0x52, 0x54, 0x00, 0, 0, 0};
  if (::getrandom(&mac[3], 3, 0) != 3) mac[5] = 1;
  return mac;
}

}  // namespace

void PciPlatform::Doorbells::set_queue_notify_address(unsigned queue, std::optional<uint64_t> address) {
  if (queue >= eventfds_.size() || addresses_[queue] == address) return;
  if (addresses_[queue]) (void)vm_.set_mmio_ioeventfd(eventfds_[queue].get(), *addresses_[queue], false);
  addresses_[queue].reset();
  if (address) {
    // Without the ioeventfd the doorbell still works, through an MMIO exit.
    if (auto set = vm_.set_mmio_ioeventfd(eventfds_[queue].get(), *address, true); set.ok()) {
      addresses_[queue] = address;
    } else {
      std::fprintf(stderr, "vmhive: queue doorbell at %#llx: %s\n", static_cast<unsigned long long>(*address),
                   set.error().message.c_str());
    }
  }
}

PciPlatform::PciPlatform(const kvm::Vm& vm, const GuestMemory& memory, MmioBus& mmio)
    : vm_(vm),
      memory_(memory),
      routes_(vm),
      bus_(mmio, x86::kPciMmioWindowStart, x86::kPciMmioWindowEnd),
      config_ports_(bus_),
      ecam_(bus_) {}

Result<std::unique_ptr<PciPlatform>> PciPlatform::make(const kvm::Vm& vm, const GuestMemory& memory, MmioBus& mmio,
                                                       LegacyPlatform& legacy, std::chrono::microseconds poll_window) {
  std::unique_ptr<PciPlatform> platform(new PciPlatform(vm, memory, mmio));
  platform->loop_ = VMHIVE_TRY(DeviceLoop::create());
  platform->loop_->set_poll_window(poll_window);
  VMHIVE_CHECK(platform->bus_.add(&platform->host_bridge_, 0));
  VMHIVE_CHECK(legacy.add_port_device(pci::kConfigPortsBase, pci::kConfigPortsLength, &platform->config_ports_));
  VMHIVE_CHECK(mmio.add(x86::kPciEcamAddress, x86::kPciEcamSize, &platform->ecam_));
  return platform;
}

Result<std::unique_ptr<PciPlatform>> PciPlatform::create(const kvm::Vm& vm, const GuestMemory& memory, MmioBus& mmio,
                                                         LegacyPlatform& legacy, const PciDevicesConfig& config) {
  auto platform = VMHIVE_TRY(make(vm, memory, mmio, legacy, config.poll_window));
  for (const auto& disk : config.disks) {
    auto image = virtio::open_disk(disk);
    if (!image.ok()) return with_context("--disk " + disk.path, image.error());
    const std::string serial = (*image)->serial();
    VMHIVE_TRY(platform->add_disk(disk, std::move(*image), serial, std::nullopt));
  }
  for (const auto& net : config.nets) {
    VMHIVE_TRY(platform->add_net(net.tap, net.mac ? *net.mac : random_mac(), std::nullopt));
  }
  if (config.entropy) VMHIVE_TRY(platform->add_virtio(std::make_unique<virtio::EntropyDevice>()));
  return platform;
}

Result<PciPlatform::VirtioFunction*> PciPlatform::add_disk(const virtio::DiskSpec& spec,
                                                           std::unique_ptr<virtio::DiskImage> image,
                                                           const std::string& serial, std::optional<uint8_t> slot) {
  VirtioFunction* function =
      VMHIVE_TRY(add_virtio(std::make_unique<virtio::BlockDevice>(std::move(image), serial), slot));
  function->disk = spec;
  function->serial = serial;
  return function;
}

Result<PciPlatform::VirtioFunction*> PciPlatform::add_net(const std::string& tap_name, std::array<uint8_t, 6> mac,
                                                          std::optional<uint8_t> slot) {
  auto tap = virtio::Tap::open(tap_name);
  if (!tap.ok()) return with_context("--net tap=" + tap_name, tap.error());
  auto device = std::make_unique<virtio::NetDevice>(std::move(*tap), mac);
  const int tap_fd = device->backend_fd();
  VirtioFunction* function = VMHIVE_TRY(add_virtio(std::move(device), slot));
  function->mac = mac;
  virtio::PciTransport* transport = function->transport.get();
  VMHIVE_CHECK(loop_->watch_edge(tap_fd, [transport] { transport->backend_ready(virtio::NetDevice::kReceiveQueue); }));
  return function;
}

Result<PciPlatform::VirtioFunction*> PciPlatform::add_virtio(std::unique_ptr<virtio::VirtioDevice> model,
                                                             std::optional<uint8_t> slot) {
  auto function = std::make_unique<VirtioFunction>();
  const unsigned queues = model->queue_count();
  std::vector<UniqueFd> eventfds;
  for (unsigned queue = 0; queue < queues; ++queue) {
    UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!fd.valid()) return make_error(std::string("eventfd for a queue doorbell failed: ") + std::strerror(errno));
    eventfds.push_back(std::move(fd));
  }
  function->doorbells = std::make_unique<Doorbells>(vm_, std::move(eventfds));
  function->vectors = VMHIVE_TRY(KvmMsiVectors::create(routes_, vm_, queues + 1));
  function->transport =
      std::make_unique<virtio::PciTransport>(*model, memory_, *function->vectors, function->doorbells.get());
  function->model = std::move(model);
  virtio::PciTransport* transport = function->transport.get();
  for (unsigned queue = 0; queue < queues; ++queue) {
    VMHIVE_CHECK(loop_->watch_eventfd(function->doorbells->fd(queue),
                                      [transport, queue] { transport->notify_queue(queue); }));
  }
  function->slot = VMHIVE_TRY(bus_.add(transport, slot));
  VMHIVE_CHECK(loop_->add_poller([transport] { return transport->poll_queues(); },
                                 [transport] { transport->stop_polling(); }));
  functions_.push_back(std::move(function));
  return functions_.back().get();
}

Result<std::vector<snapshot::VirtioFunctionState>> PciPlatform::capture(const std::string& dir) {
  std::vector<snapshot::VirtioFunctionState> states;
  for (const auto& function : functions_) {
    snapshot::VirtioFunctionState state;
    state.device_type = static_cast<uint16_t>(function->model->type());
    state.slot = function->slot;
    state.transport = function->transport->state();
    if (function->model->type() == virtio::DeviceType::kBlock) {
      const virtio::DiskSpec& spec = function->disk;
      auto& block = static_cast<virtio::BlockDevice&>(*function->model);
      state.disk.serial = function->serial;
      state.disk.size = block.image().size();
      if (spec.read_only && spec.overlay_path.empty()) {
        // Nothing can change a read-only image through this VM: use it in place.
        char resolved[PATH_MAX];
        struct stat info{};
        if (::realpath(spec.path.c_str(), resolved) == nullptr || ::stat(resolved, &info) != 0)
          return make_error("disk " + spec.path + ": " + std::strerror(errno));
        state.disk.image = resolved;
        state.disk.shared = true;
        state.disk.mtime_ns = static_cast<int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec;
      } else {
        state.disk.image = "disk-" + std::to_string(states.size());
        auto copied = virtio::copy_disk_sparse(block.image(), dir + "/" + state.disk.image);
        if (!copied.ok()) return with_context("disk " + spec.path, copied.error());
      }
    } else if (function->model->type() == virtio::DeviceType::kNet) {
      state.mac = function->mac;
    }
    states.push_back(std::move(state));
  }
  return states;
}

namespace {

int64_t mtime_ns_of(const struct stat& info) {
  return static_cast<int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec;
}

// The image a restored disk reads and writes, and how it was opened.
Result<std::pair<virtio::DiskSpec, std::unique_ptr<virtio::DiskImage>>> open_restored_disk(
    const snapshot::VirtioDiskRecord& record, const RestoredPciDevices& devices, unsigned disk_number) {
  if (record.shared) {
    struct stat info{};
    if (::stat(record.image.c_str(), &info) != 0)
      return make_error("snapshot disk " + record.image + ": " + std::strerror(errno));
    if (static_cast<uint64_t>(info.st_size) != record.size || mtime_ns_of(info) != record.mtime_ns)
      return make_error("snapshot disk " + record.image + " has changed since the snapshot (size or modification time)");
    virtio::DiskSpec spec{record.image, true, {}};
    return std::pair{spec, VMHIVE_TRY(virtio::open_disk(spec))};
  }
  const std::string base = devices.snapshot_dir + "/" + record.image;
  struct stat base_info{};
  if (::lstat(base.c_str(), &base_info) != 0)
    return make_error("snapshot disk " + base + ": " + std::strerror(errno));
  if (!S_ISREG(base_info.st_mode))  // a link could make any readable host file the guest's disk
    return make_error("snapshot disk " + base + " is not a regular file");
  const bool named = !devices.overlay_dir.empty();
  uint64_t nonce = 0;
  if (::getrandom(&nonce, sizeof nonce, 0) != sizeof nonce) nonce = static_cast<uint64_t>(::getpid());
  char unnamed[64];
  std::snprintf(unnamed, sizeof unnamed, "/.overlay-%d-%u-%016llx", static_cast<int>(::getpid()), disk_number,
                static_cast<unsigned long long>(nonce));
  const std::string overlay =
      named ? devices.overlay_dir + "/" + devices.overlay_prefix + "-disk-" + std::to_string(disk_number) + ".overlay"
            : devices.snapshot_dir + unnamed;
  // An overlay left from before would hold writes the restored guest never made.
  if (::access(overlay.c_str(), F_OK) == 0)
    return make_error("disk overlay " + overlay + " already exists; a restore starts from the snapshot's disk");
  virtio::DiskSpec spec{base, false, overlay};
  auto image = virtio::open_disk(spec);
  if (!named) ::unlink(overlay.c_str());  // the open file lives on until the VM ends
  if (!image.ok()) return with_context("snapshot disk " + base, image.error());
  if ((*image)->size() != record.size)
    return make_error("snapshot disk " + base + " has " + std::to_string((*image)->size()) + " bytes, the snapshot " +
                      std::to_string(record.size));
  return std::pair{spec, std::move(*image)};
}

}  // namespace

Result<std::unique_ptr<PciPlatform>> PciPlatform::restore(const kvm::Vm& vm, const GuestMemory& memory, MmioBus& mmio,
                                                          LegacyPlatform& legacy,
                                                          const std::vector<snapshot::VirtioFunctionState>& functions,
                                                          const RestoredPciDevices& devices) {
  size_t nets = 0;
  for (const auto& function : functions) nets += function.device_type == static_cast<uint16_t>(virtio::DeviceType::kNet);
  if (devices.taps.size() != nets)
    return make_error("the snapshot has " + std::to_string(nets) + " virtio-net device(s); give as many taps (--net tap=NAME), not " +
                      std::to_string(devices.taps.size()));
  auto platform = VMHIVE_TRY(make(vm, memory, mmio, legacy, devices.poll_window));
  size_t next_tap = 0;
  unsigned next_disk = 0;
  for (const auto& saved : functions) {
    VirtioFunction* function = nullptr;
    switch (static_cast<virtio::DeviceType>(saved.device_type)) {
      case virtio::DeviceType::kBlock: {
        auto [spec, image] = VMHIVE_TRY(open_restored_disk(saved.disk, devices, next_disk++));
        function = VMHIVE_TRY(platform->add_disk(spec, std::move(image), saved.disk.serial, saved.slot));
        break;
      }
      case virtio::DeviceType::kNet:
        function = VMHIVE_TRY(platform->add_net(devices.taps[next_tap++], saved.mac, saved.slot));
        break;
      case virtio::DeviceType::kEntropy:
        function = VMHIVE_TRY(platform->add_virtio(std::make_unique<virtio::EntropyDevice>(), saved.slot));
        break;
    }
    if (function == nullptr) return make_error("unknown virtio device type " + std::to_string(saved.device_type));
    VMHIVE_CHECK(function->transport->restore(saved.transport));
  }
  platform->bus_.remap_bars();
  // Requests the guest made available while the snapshot was taken, and
  // frames already waiting on a tap, are served now: their doorbells rang in
  // another process.
  for (const auto& function : platform->functions_) {
    function->transport->serve_pending();
    if (function->model->type() == virtio::DeviceType::kNet)
      function->transport->backend_ready(virtio::NetDevice::kReceiveQueue);
  }
  return platform;
}

}  // namespace vmhive
