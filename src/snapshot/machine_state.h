// Everything a snapshot holds besides guest RAM, as plain values, and its
// encoding into the sections of a state file (state_file.h).
//
// A snapshot is a directory: `state` (this, checksummed per section) and
// `memory` (guest RAM, regions end to end, sparse). docs/snapshots.md.
#pragma once

#include <linux/kvm.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "devices/legacy/cmos_rtc.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/uart_8250.h"
#include "devices/virtio/pci_transport.h"
#include "kvm/vcpu.h"
#include "snapshot/state_file.h"

namespace vmhive::snapshot {

// Section tags. Never reuse a number; a new kind of state gets a new tag.
enum SectionTag : uint32_t {
  kMachineSection = 1,  // MachineDescription
  kVcpuSection = 2,     // VcpuState, instance = vCPU index
  kVmSection = 3,       // VmState
  kUartSection = 4,
  kRtcSection = 5,
  kI8042Section = 6,
  kSyscallRepairSection = 7,  // KVM-PVM only, instance = vCPU index
  kVirtioSection = 8,         // VirtioFunctionState, instance = the function's place in the list
};

// What a restore must build before it loads any state into it.
struct MachineDescription {
  uint64_t memory_size = 0;
  uint32_t vcpu_count = 0;
  std::string backend;        // "pvm", "vmx", ... (kvm::backend_name)
  std::string cpu_template;   // the template's name, for messages
  std::vector<kvm_cpuid_entry2> cpuid;  // the guest's CPUID (vCPU 0's; per-vCPU ids are derived)
  uint64_t memory_file_size = 0;  // bytes the memory file must have
};

struct VcpuState {
  kvm_regs regs{};
  kvm_sregs sregs{};
  kvm::XsaveArea xsave{};
  kvm_xcrs xcrs{};
  kvm_vcpu_events events{};
  kvm_mp_state mp_state{};
  kvm_debugregs debugregs{};
  kvm_lapic_state lapic{};
  std::vector<kvm::MsrValue> msrs;
};

// The in-kernel devices: PIC master and slave, IOAPIC, PIT, kvmclock.
struct VmState {
  kvm_irqchip pic_master{};
  kvm_irqchip pic_slave{};
  kvm_irqchip ioapic{};
  kvm_pit_state2 pit{};
  kvm_clock_data clock{};
};

// KVM-PVM's SYSCALL repair (vmm/pvm_syscall_repair.h) per vCPU.
struct SyscallRepairState {
  uint64_t handler = 0;
  bool stepping = false;
};

// A virtio-blk disk's content at the snapshot.
struct VirtioDiskRecord {
  std::string image;    // a file in the snapshot directory (a name), or, if shared, an absolute path
  bool shared = false;  // a read-only image used where it is; refused on restore if it changed
  uint64_t size = 0;
  int64_t mtime_ns = 0;  // of a shared image
  std::string serial;    // the ID the guest saw (GET_ID)
};

// One virtio device on the PCI bus, in the order the machine added them.
struct VirtioFunctionState {
  uint16_t device_type = 0;  // virtio::DeviceType
  uint8_t slot = 0;          // PCI device number
  VirtioDiskRecord disk;     // block only
  std::array<uint8_t, 6> mac{};  // net only
  virtio::PciTransport::State transport;
};

struct MachineState {
  MachineDescription description;
  std::vector<VcpuState> vcpus;
  VmState vm;
  devices::Uart8250::State uart{};
  devices::CmosRtc::State rtc{};
  devices::I8042::State i8042{};
  std::vector<SyscallRepairState> syscall_repairs;  // empty unless KVM-PVM
  std::vector<VirtioFunctionState> virtio;          // empty without PCI
};

// The state file's bytes.
std::vector<uint8_t> encode_machine_state(const MachineState& state);
// Decodes and checks a parsed state file: every section present once, sizes
// and counts consistent; an error names the section at fault.
Result<MachineState> decode_machine_state(const StateFile& file);

}  // namespace vmhive::snapshot
