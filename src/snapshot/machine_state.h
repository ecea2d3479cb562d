// Everything a snapshot holds besides guest RAM, as plain values, and how
// they go into the sections of a state file (state_file.h). Each part's
// fields are described beside its model (the device, the KVM wrapper); this
// file only says which section holds what, and checks that they agree.
//
// A snapshot is a directory (snapshot_dir.h): `state` (this, checksummed per
// section), `memory` (guest RAM, sparse) and the devices' own files. See
// docs/snapshots.md.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <string>
#include <vector>

#include "arch/x86/pvm_syscall_repair.h"
#include "common/result.h"
#include "devices/legacy/cmos_rtc.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/uart_8250.h"
#include "devices/virtio/function_state.h"
#include "memory/guest_range.h"
#include "kvm/kvm_state.h"
#include "snapshot/state_file.h"

namespace vmhive::snapshot {

// Section tags. Never reuse a number; a new kind of state gets a new tag.
enum SectionTag : uint32_t {
  kMachineSection = 1,  // MachineDescription (instance 0), KernelText (instance 1)
  kVcpuSection = 2,     // kvm::VcpuState, instance = vCPU index
  kVmSection = 3,       // kvm::VmState
  kUartSection = 4,
  kRtcSection = 5,
  kI8042Section = 6,
  kSyscallRepairSection = 7,  // KVM-PVM only, instance = vCPU index
  kVirtioSection = 8,         // virtio::FunctionState, instance = the function's place in the list
};

// What a restore must build before it loads any state into it.
struct MachineDescription {
  static constexpr uint32_t kMaxVcpus = 254;
  static constexpr size_t kMaxCpuidEntries = 256;
  static constexpr uint64_t kMaxMemory = 1ull << 40;
  static constexpr size_t kMaxName = 64;

  uint64_t memory_size = 0;
  uint32_t vcpu_count = 0;
  std::string backend;        // "pvm", "vmx", ... (kvm::backend_name)
  std::string cpu_template;   // the template's name, for messages
  std::vector<kvm_cpuid_entry2> cpuid;  // the guest's CPUID (vCPU 0's; per-vCPU ids are derived)
  uint64_t memory_file_size = 0;  // bytes the memory file must have

  template <class Codec, class Self>
  static Result<void> fields(Codec& codec, Self& self) {
    VMHIVE_CHECK(codec.field(self.memory_size, self.vcpu_count));
    VMHIVE_CHECK(codec.string(self.backend, kMaxName));
    VMHIVE_CHECK(codec.string(self.cpu_template, kMaxName));
    VMHIVE_CHECK(codec.field(self.memory_file_size));
    return codec.list(self.cpuid, kMaxCpuidEntries, [](auto& c, auto& entry) { return c.object(entry); },
                      "CPUID entries");
  }
  Result<void> check() const;
};

// Where the guest kernel's text is (an ELF kernel's read-only executable
// segments; none for a bzImage), so that a restore can write-protect it.
struct KernelText {
  static constexpr size_t kMaxRanges = 16;
  std::vector<GuestRange> ranges;

  template <class Codec, class Self>
  static Result<void> fields(Codec& codec, Self& self) {
    return codec.list(self.ranges, kMaxRanges, [](auto& c, auto& range) { return c.object(range); }, "text ranges");
  }
};

struct MachineState {
  MachineDescription description;
  KernelText kernel_text;  // machine section 1; absent from snapshots made before it
  std::vector<kvm::VcpuState> vcpus;
  kvm::VmState vm;
  devices::Uart8250::State uart{};
  devices::CmosRtc::State rtc{};
  devices::I8042::State i8042{};
  devices::I8042::KeyboardState keyboard{};  // i8042 section 1; absent from snapshots made before it
  std::vector<x86::PvmSyscallRepair::State> syscall_repairs;  // empty unless KVM-PVM
  std::vector<virtio::FunctionState> virtio;                  // empty without PCI
};

// The state file's bytes.
std::vector<uint8_t> encode_machine_state(const MachineState& state);
// Decodes and checks a parsed state file: every section present once, sizes
// and counts consistent, every device's state well formed; an error names
// the section at fault.
Result<MachineState> decode_machine_state(const StateFile& file);

}  // namespace vmhive::snapshot
