// Device 0 on bus 0: the host bridge Linux expects to find first. It has no
// BARs and does nothing; its class code (0x060000) is what matters.
#pragma once

#include <algorithm>

#include "devices/pci/pci_device.h"

namespace vmhive::pci {

class HostBridge : public PciDevice {
 public:
  // Red Hat's ID for an emulated PCIe host bridge (1b36:0008), as other VMMs
  // use; Linux binds no driver to it.
  HostBridge() : config_(DeviceIdentity{0x1b36, 0x0008, 0x060000, 0, 0x1b36, 0x0008}) {}

  ConfigSpace& config() override { return config_; }
  void bar_read(unsigned, uint64_t, std::span<uint8_t> data) override { std::fill(data.begin(), data.end(), 0xff); }
  void bar_write(unsigned, uint64_t, std::span<const uint8_t>) override {}

 private:
  ConfigSpace config_;
};

}  // namespace vmhive::pci
