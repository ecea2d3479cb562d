#include "vmm/pci_platform.h"

#include <sys/eventfd.h>
#include <sys/random.h>

#include <cstdio>
#include <map>
#include <string>

#include "arch/x86/layout.h"
#include "common/errno_error.h"
#include "common/hex.h"
#include "devices/virtio/block/block_device.h"
#include "devices/virtio/device_kinds.h"
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
      log_.write("queue doorbell at " + hex(*address) + ": " + set.error().message);
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
    VMHIVE_TRY(platform->add_virtio(std::make_unique<virtio::BlockDevice>(std::move(*image), disk)));
  }
  for (const auto& net : config.nets) {
    auto backend = virtio::NetBackend::open(net.link());
    if (!backend.ok()) return with_context("--net " + net.link().describe(), backend.error());
    VMHIVE_TRY(platform->add_virtio(
        std::make_unique<virtio::NetDevice>(std::move(*backend), net.mac ? *net.mac : random_mac())));
  }
  if (config.entropy) VMHIVE_TRY(platform->add_virtio(std::make_unique<virtio::EntropyDevice>()));
  return platform;
}

Result<PciPlatform::VirtioFunction*> PciPlatform::add_virtio(std::unique_ptr<virtio::VirtioDevice> model,
                                                             std::optional<uint8_t> slot) {
  auto function = std::make_unique<VirtioFunction>();
  const unsigned queues = model->queue_count();
  std::vector<UniqueFd> eventfds;
  for (unsigned queue = 0; queue < queues; ++queue) {
    UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!fd.valid()) return errno_error("eventfd for a queue doorbell failed");
    eventfds.push_back(std::move(fd));
  }
  function->doorbells = std::make_unique<Doorbells>(vm_, std::move(eventfds));
  function->vectors = VMHIVE_TRY(KvmMsiVectors::create(routes_, vm_, queues + 1));
  function->transport =
      std::make_unique<virtio::PciTransport>(*model, memory_, *function->vectors, function->doorbells.get());
  virtio::PciTransport* transport = function->transport.get();
  for (unsigned queue = 0; queue < queues; ++queue) {
    VMHIVE_CHECK(loop_->watch_eventfd(function->doorbells->fd(queue),
                                      [transport, queue] { transport->notify_queue(queue); }));
  }
  if (const auto watch = model->backend_watch()) {
    VMHIVE_CHECK(loop_->watch_edge(watch->fd, [transport, queue = watch->queue] { transport->backend_ready(queue); }));
  }
  function->model = std::move(model);
  function->slot = VMHIVE_TRY(bus_.add(transport, slot));
  VMHIVE_CHECK(loop_->add_poller([transport] { return transport->poll_queues(); },
                                 [transport] { transport->stop_polling(); }));
  functions_.push_back(std::move(function));
  return functions_.back().get();
}

std::vector<PciPlatform::DeviceTrafficReport> PciPlatform::traffic() const {
  std::vector<DeviceTrafficReport> reports;
  std::map<virtio::DeviceType, unsigned> seen;
  for (const auto& function : functions_) {
    const virtio::DeviceType type = function->model->type();
    reports.push_back({type, seen[type]++, function->model->traffic()});
  }
  return reports;
}

Result<std::vector<virtio::FunctionState>> PciPlatform::capture(const snapshot::SnapshotDir& dir) {
  std::vector<virtio::FunctionState> states;
  for (const auto& function : functions_) {
    virtio::FunctionState state;
    state.device_type = static_cast<uint16_t>(function->model->type());
    state.slot = function->slot;
    state.device = VMHIVE_TRY(function->model->save(dir.save_context(static_cast<unsigned>(states.size()))));
    state.transport = function->transport->state();
    states.push_back(std::move(state));
  }
  return states;
}

Result<std::unique_ptr<PciPlatform>> PciPlatform::restore(const kvm::Vm& vm, const GuestMemory& memory, MmioBus& mmio,
                                                          LegacyPlatform& legacy,
                                                          const std::vector<virtio::FunctionState>& functions,
                                                          virtio::DeviceRestoreContext& context,
                                                          std::chrono::microseconds poll_window) {
  std::vector<const virtio::DeviceKind*> kinds;
  size_t links_needed = 0;
  for (const auto& saved : functions) {
    const virtio::DeviceKind* kind = virtio::find_device_kind(saved.device_type);
    if (kind == nullptr) return make_error("unknown virtio device type " + std::to_string(saved.device_type));
    links_needed += kind->takes_net_link;
    kinds.push_back(kind);
  }
  if (context.net_links.size() != links_needed)
    return make_error("the snapshot has " + std::to_string(links_needed) +
                      " virtio-net device(s); give as many taps (--net tap=NAME) or sockets (--net fd=N), not " +
                      std::to_string(context.net_links.size()));
  auto platform = VMHIVE_TRY(make(vm, memory, mmio, legacy, poll_window));
  for (size_t index = 0; index < functions.size(); ++index) {
    const virtio::FunctionState& saved = functions[index];
    auto model = VMHIVE_TRY(kinds[index]->restore(saved.device, context));
    VirtioFunction* function = VMHIVE_TRY(platform->add_virtio(std::move(model), saved.slot));
    VMHIVE_CHECK(function->transport->restore(saved.transport));
  }
  platform->bus_.remap_bars();
  // Requests the guest made available while the snapshot was taken, and
  // data already waiting on a backend, are served now: their doorbells rang
  // in another process.
  for (const auto& function : platform->functions_) {
    function->transport->serve_pending();
    if (const auto watch = function->model->backend_watch()) function->transport->backend_ready(watch->queue);
  }
  return platform;
}

}  // namespace vmhive
