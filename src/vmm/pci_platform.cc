#include "vmm/pci_platform.h"

#include <sys/eventfd.h>
#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "arch/x86/layout.h"
#include "devices/virtio/block/block_device.h"
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

Result<std::unique_ptr<PciPlatform>> PciPlatform::create(const kvm::Vm& vm, const GuestMemory& memory, MmioBus& mmio,
                                                         LegacyPlatform& legacy, const PciDevicesConfig& config) {
  std::unique_ptr<PciPlatform> platform(new PciPlatform(vm, memory, mmio));
  platform->loop_ = VMHIVE_TRY(DeviceLoop::create());
  platform->loop_->set_poll_window(config.poll_window);
  VMHIVE_CHECK(platform->bus_.add(&platform->host_bridge_, 0));
  VMHIVE_CHECK(legacy.add_port_device(pci::kConfigPortsBase, pci::kConfigPortsLength, &platform->config_ports_));
  VMHIVE_CHECK(mmio.add(x86::kPciEcamAddress, x86::kPciEcamSize, &platform->ecam_));
  for (const auto& disk : config.disks) {
    auto image = virtio::open_disk(disk);
    if (!image.ok()) return with_context("--disk " + disk.path, image.error());
    VMHIVE_TRY(platform->add_virtio(std::make_unique<virtio::BlockDevice>(std::move(*image))));
  }
  for (const auto& net : config.nets) {
    auto tap = virtio::Tap::open(net.tap);
    if (!tap.ok()) return with_context("--net tap=" + net.tap, tap.error());
    auto device = std::make_unique<virtio::NetDevice>(std::move(*tap), net.mac ? *net.mac : random_mac());
    const int tap_fd = device->backend_fd();
    virtio::PciTransport* transport = VMHIVE_TRY(platform->add_virtio(std::move(device)));
    VMHIVE_CHECK(platform->loop_->watch_edge(
        tap_fd, [transport] { transport->backend_ready(virtio::NetDevice::kReceiveQueue); }));
  }
  if (config.entropy) VMHIVE_TRY(platform->add_virtio(std::make_unique<virtio::EntropyDevice>()));
  return platform;
}

Result<virtio::PciTransport*> PciPlatform::add_virtio(std::unique_ptr<virtio::VirtioDevice> model) {
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
  VMHIVE_CHECK(bus_.add(transport));
  VMHIVE_CHECK(loop_->add_poller([transport] { return transport->poll_queues(); },
                                 [transport] { transport->stop_polling(); }));
  functions_.push_back(std::move(function));
  return transport;
}

}  // namespace vmhive
