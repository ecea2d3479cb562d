#include "snapshot/machine_state.h"

#include "common/state_codec.h"

namespace vmhive::snapshot {
namespace {

constexpr uint32_t kMaxVirtioFunctions = 31;

// Decodes section (tag, instance) as a T; `context` starts its errors.
template <class T>
Result<T> decode_section(const StateFile& file, uint32_t tag, uint32_t instance, const std::string& context) {
  auto payload = file.section(tag, instance);
  if (!payload.ok()) return payload.error();
  return decode_state<T>(*payload, context);
}

// `count` sections of one tag, instances 0 to count - 1.
template <class T>
Result<std::vector<T>> decode_sections(const StateFile& file, uint32_t tag, size_t count, const std::string& name) {
  std::vector<T> states;
  for (uint32_t index = 0; index < count; ++index)
    states.push_back(VMHIVE_TRY(decode_section<T>(file, tag, index, name + " section " + std::to_string(index))));
  return states;
}

template <class T>
void add_sections(StateFileWriter& writer, uint32_t tag, const std::vector<T>& states) {
  for (uint32_t index = 0; index < states.size(); ++index) writer.add(tag, index, encode_state(states[index]));
}

}  // namespace

Result<void> MachineDescription::check() const {
  if (cpuid.empty()) return make_error("0 CPUID entries (1 to 256)");
  if (vcpu_count == 0 || vcpu_count > kMaxVcpus)
    return make_error(std::to_string(vcpu_count) + " vCPUs (1 to " + std::to_string(kMaxVcpus) + ")");
  if (memory_size == 0 || memory_size > kMaxMemory || memory_size % 4096 != 0)
    return make_error("memory size " + std::to_string(memory_size) + " is not a whole number of pages up to 1 TiB");
  return {};
}

std::vector<uint8_t> encode_machine_state(const MachineState& state) {
  StateFileWriter writer;
  writer.add(kMachineSection, 0, encode_state(state.description));
  writer.add(kMachineSection, 1, encode_state(state.kernel_text));
  add_sections(writer, kVcpuSection, state.vcpus);
  writer.add(kVmSection, 0, encode_state(state.vm));
  writer.add(kUartSection, 0, encode_state(state.uart));
  writer.add(kRtcSection, 0, encode_state(state.rtc));
  writer.add(kI8042Section, 0, encode_state(state.i8042));
  writer.add(kI8042Section, 1, encode_state(state.keyboard));
  add_sections(writer, kSyscallRepairSection, state.syscall_repairs);
  add_sections(writer, kVirtioSection, state.virtio);
  return writer.finish();
}

Result<MachineState> decode_machine_state(const StateFile& file) {
  for (const auto& section : file.sections()) {
    if (section.tag < kMachineSection || section.tag > kVirtioSection)
      return make_error("state file has a section with unknown tag " + std::to_string(section.tag));
  }
  MachineState state;
  state.description = VMHIVE_TRY(decode_section<MachineDescription>(file, kMachineSection, 0, "machine section"));
  if (const size_t machine_sections = file.count(kMachineSection); machine_sections > 2) {
    return make_error("state file has " + std::to_string(machine_sections) + " machine sections (1 or 2)");
  } else if (machine_sections == 2) {
    state.kernel_text = VMHIVE_TRY(decode_section<KernelText>(file, kMachineSection, 1, "kernel text section"));
    for (const GuestRange& range : state.kernel_text.ranges)
      if (range.size == 0 || range.start % 4096 != 0 || range.size % 4096 != 0 ||
          range.start > state.description.memory_size || range.size > state.description.memory_size - range.start)
        return make_error("kernel text section: a range that is not whole pages of the guest's RAM");
  }
  const uint32_t vcpus = state.description.vcpu_count;
  if (file.count(kVcpuSection) != vcpus)
    return make_error("state file has " + std::to_string(file.count(kVcpuSection)) + " vCPU sections for " +
                      std::to_string(vcpus) + " vCPUs");
  state.vcpus = VMHIVE_TRY(decode_sections<kvm::VcpuState>(file, kVcpuSection, vcpus, "vCPU"));
  state.vm = VMHIVE_TRY(decode_section<kvm::VmState>(file, kVmSection, 0, "VM section"));
  state.uart = VMHIVE_TRY(decode_section<devices::Uart8250::State>(file, kUartSection, 0, "UART section"));
  state.rtc = VMHIVE_TRY(decode_section<devices::CmosRtc::State>(file, kRtcSection, 0, "RTC section"));
  state.i8042 = VMHIVE_TRY(decode_section<devices::I8042::State>(file, kI8042Section, 0, "i8042 section"));
  if (const size_t i8042_sections = file.count(kI8042Section); i8042_sections > 2) {
    return make_error("state file has " + std::to_string(i8042_sections) + " i8042 sections (1 or 2)");
  } else if (i8042_sections == 2) {
    state.keyboard =
        VMHIVE_TRY(decode_section<devices::I8042::KeyboardState>(file, kI8042Section, 1, "i8042 keyboard section"));
  }
  const size_t repairs = file.count(kSyscallRepairSection);
  if (repairs != 0 && repairs != vcpus)
    return make_error("state file has " + std::to_string(repairs) + " SYSCALL repair sections for " +
                      std::to_string(vcpus) + " vCPUs");
  state.syscall_repairs =
      VMHIVE_TRY(decode_sections<x86::PvmSyscallRepair::State>(file, kSyscallRepairSection, repairs, "SYSCALL repair"));
  const size_t functions = file.count(kVirtioSection);
  if (functions > kMaxVirtioFunctions)
    return make_error("state file has " + std::to_string(functions) + " virtio sections (at most 31)");
  state.virtio = VMHIVE_TRY(decode_sections<virtio::FunctionState>(file, kVirtioSection, functions, "virtio"));
  return state;
}

}  // namespace vmhive::snapshot
