#include "arch/x86/acpi/madt.h"

#include "arch/x86/layout.h"

namespace vmhive::x86::acpi {
namespace {

constexpr uint8_t kMadtRevision = 5;
constexpr uint32_t kPcAtCompatible = 1;  // there are 8259 PICs too (the in-kernel irqchip has them)

// Interrupt controller structure types (§5.2.12, Table 5.21).
constexpr uint8_t kTypeLocalApic = 0;
constexpr uint8_t kTypeIoApic = 1;
constexpr uint8_t kTypeInterruptSourceOverride = 2;
constexpr uint8_t kTypeLocalApicNmi = 4;

constexpr uint32_t kLocalApicEnabled = 1;
// MPS INTI flags (§5.2.12.5, Table 5.26): polarity bits 1:0, trigger mode bits 3:2.
constexpr uint16_t kConforming = 0x0;
constexpr uint16_t kActiveHighLevel = 0x1 | (0x3 << 2);

struct [[gnu::packed]] MadtHeader {
  SdtHeader header;
  uint32_t local_apic_address;
  uint32_t flags;
};

struct [[gnu::packed]] LocalApic {  // §5.2.12.2
  uint8_t type = kTypeLocalApic;
  uint8_t length = sizeof(LocalApic);
  uint8_t processor_uid;
  uint8_t apic_id;
  uint32_t flags;
};
static_assert(sizeof(LocalApic) == 8);

struct [[gnu::packed]] IoApic {  // §5.2.12.3
  uint8_t type = kTypeIoApic;
  uint8_t length = sizeof(IoApic);
  uint8_t io_apic_id;
  uint8_t reserved = 0;
  uint32_t address;
  uint32_t global_system_interrupt_base;
};
static_assert(sizeof(IoApic) == 12);

struct [[gnu::packed]] InterruptSourceOverride {  // §5.2.12.5
  uint8_t type = kTypeInterruptSourceOverride;
  uint8_t length = sizeof(InterruptSourceOverride);
  uint8_t bus = 0;  // ISA
  uint8_t source;
  uint32_t global_system_interrupt;
  uint16_t flags;
};
static_assert(sizeof(InterruptSourceOverride) == 10);

struct [[gnu::packed]] LocalApicNmi {  // §5.2.12.7
  uint8_t type = kTypeLocalApicNmi;
  uint8_t length = sizeof(LocalApicNmi);
  uint8_t processor_uid;
  uint16_t flags;
  uint8_t lint;
};
static_assert(sizeof(LocalApicNmi) == 6);

constexpr uint8_t kAllProcessors = 0xff;

}  // namespace

AcpiTable build_madt(uint32_t cpu_count) {
  std::vector<uint8_t> bytes;
  append_bytes(bytes, MadtHeader{make_sdt_header("APIC", kMadtRevision), static_cast<uint32_t>(kLocalApicAddress),
                                 kPcAtCompatible});
  for (uint32_t cpu = 0; cpu < cpu_count; ++cpu) {
    LocalApic local{};
    local.processor_uid = static_cast<uint8_t>(cpu);
    local.apic_id = static_cast<uint8_t>(cpu);
    local.flags = kLocalApicEnabled;
    append_bytes(bytes, local);
  }
  IoApic io_apic{};
  io_apic.io_apic_id = static_cast<uint8_t>(cpu_count);
  io_apic.address = static_cast<uint32_t>(kIoApicAddress);
  io_apic.global_system_interrupt_base = 0;
  append_bytes(bytes, io_apic);

  // The PIT's IRQ 0 is wired to IOAPIC input 2, as on every PC since the APIC.
  InterruptSourceOverride timer{};
  timer.source = 0;
  timer.global_system_interrupt = 2;
  timer.flags = kConforming;
  append_bytes(bytes, timer);
  // IRQ 9 is the ACPI SCI on PCs: level-triggered, active high.
  InterruptSourceOverride sci{};
  sci.source = 9;
  sci.global_system_interrupt = 9;
  sci.flags = kActiveHighLevel;
  append_bytes(bytes, sci);

  LocalApicNmi nmi{};
  nmi.processor_uid = kAllProcessors;
  nmi.flags = kConforming;
  nmi.lint = 1;
  append_bytes(bytes, nmi);
  return seal_table(std::move(bytes));
}

}  // namespace vmhive::x86::acpi
