// A guest programs virtio-pci registers and rings in any order with any
// values: the transport (with the entropy device behind it) must never crash,
// hang or touch memory outside guest RAM, whatever the sequence.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "devices/pci/msix.h"
#include "devices/virtio/pci_transport.h"
#include "devices/virtio/rng/entropy_device.h"

namespace {

class NullSink : public vmhive::pci::MsiSink {
 public:
  void route(unsigned, const vmhive::pci::MsiMessage&) override {}
  void signal(unsigned) override {}
};

}  // namespace

// Input: a sequence of 12-byte operations
//   [kind][size][offset u16][value u64]
// kind % 5: 0 BAR write, 1 BAR read, 2 config write, 3 notify queue, 4 poke RAM.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vmhive;
  constexpr uint64_t kRamSize = 64 * 1024;
  static auto memory = GuestMemory::create({{0, kRamSize}});
  if (!memory.ok()) __builtin_trap();
  (void)memory->fill(0, 0, kRamSize);

  virtio::EntropyDevice device;
  NullSink sink;
  virtio::PciTransport transport(device, *memory, sink);
  for (size_t at = 0; at + 12 <= size; at += 12) {
    const uint8_t kind = data[at] % 5;
    static constexpr size_t kWidths[] = {1, 2, 4, 8};
    const size_t width = kWidths[data[at + 1] % 4];
    uint16_t offset;
    uint64_t value;
    std::memcpy(&offset, data + at + 2, 2);
    std::memcpy(&value, data + at + 4, 8);
    uint8_t bytes[8];
    std::memcpy(bytes, &value, 8);
    switch (kind) {
      case 0: transport.bar_write(0, offset % virtio::kBarSize, std::span<const uint8_t>(bytes, width)); break;
      case 1: transport.bar_read(0, offset % virtio::kBarSize, std::span<uint8_t>(bytes, width)); break;
      case 2:
        transport.config().write(offset % 256, std::span<const uint8_t>(bytes, width));
        transport.config_written(offset % 256, width);
        break;
      case 3: transport.notify_queue(offset % 4); break;
      case 4: (void)memory->write(offset % (kRamSize - 8), std::span<const uint8_t>(bytes, 8)); break;
    }
  }
  return 0;
}
