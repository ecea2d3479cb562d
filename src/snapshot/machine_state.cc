#include "snapshot/machine_state.h"

#include "snapshot/byte_codec.h"

namespace vmhive::snapshot {
namespace {

constexpr uint32_t kMaxVcpus = 254;
constexpr uint32_t kMaxCpuidEntries = 256;
constexpr uint32_t kMaxMsrs = 2048;
constexpr uint64_t kMaxMemory = 1ull << 40;
constexpr size_t kMaxName = 64;
constexpr uint32_t kMaxFifo = 4096;

std::vector<uint8_t> encode_description(const MachineDescription& description) {
  ByteWriter writer;
  writer.put_u64(description.memory_size);
  writer.put_u32(description.vcpu_count);
  writer.put_string(description.backend);
  writer.put_string(description.cpu_template);
  writer.put_u64(description.memory_file_size);
  writer.put_u32(static_cast<uint32_t>(description.cpuid.size()));
  for (const auto& entry : description.cpuid) writer.put_object(entry);
  return writer.take();
}

Result<MachineDescription> decode_description(std::span<const uint8_t> bytes) {
  ByteReader reader(bytes, "machine section");
  MachineDescription description;
  description.memory_size = VMHIVE_TRY(reader.get_u64());
  description.vcpu_count = VMHIVE_TRY(reader.get_u32());
  description.backend = VMHIVE_TRY(reader.get_string(kMaxName));
  description.cpu_template = VMHIVE_TRY(reader.get_string(kMaxName));
  description.memory_file_size = VMHIVE_TRY(reader.get_u64());
  const uint32_t entries = VMHIVE_TRY(reader.get_u32());
  if (entries == 0 || entries > kMaxCpuidEntries)
    return make_error("machine section: " + std::to_string(entries) + " CPUID entries (1 to 256)");
  for (uint32_t i = 0; i < entries; ++i) description.cpuid.push_back(VMHIVE_TRY(reader.get_object<kvm_cpuid_entry2>()));
  VMHIVE_CHECK(reader.expect_end());
  if (description.vcpu_count == 0 || description.vcpu_count > kMaxVcpus)
    return make_error("machine section: " + std::to_string(description.vcpu_count) + " vCPUs (1 to 254)");
  if (description.memory_size == 0 || description.memory_size > kMaxMemory || description.memory_size % 4096 != 0)
    return make_error("machine section: memory size " + std::to_string(description.memory_size) +
                      " is not a whole number of pages up to 1 TiB");
  return description;
}

std::vector<uint8_t> encode_vcpu(const VcpuState& state) {
  ByteWriter writer;
  writer.put_object(state.regs);
  writer.put_object(state.sregs);
  writer.put_object(state.xsave);
  writer.put_object(state.xcrs);
  writer.put_object(state.events);
  writer.put_object(state.mp_state);
  writer.put_object(state.debugregs);
  writer.put_object(state.lapic);
  writer.put_u32(static_cast<uint32_t>(state.msrs.size()));
  for (const auto& msr : state.msrs) {
    writer.put_u32(msr.index);
    writer.put_u64(msr.value);
  }
  return writer.take();
}

Result<VcpuState> decode_vcpu(std::span<const uint8_t> bytes, uint32_t index) {
  ByteReader reader(bytes, "vCPU " + std::to_string(index) + " section");
  VcpuState state;
  state.regs = VMHIVE_TRY(reader.get_object<kvm_regs>());
  state.sregs = VMHIVE_TRY(reader.get_object<kvm_sregs>());
  state.xsave = VMHIVE_TRY(reader.get_object<kvm::XsaveArea>());
  state.xcrs = VMHIVE_TRY(reader.get_object<kvm_xcrs>());
  state.events = VMHIVE_TRY(reader.get_object<kvm_vcpu_events>());
  state.mp_state = VMHIVE_TRY(reader.get_object<kvm_mp_state>());
  state.debugregs = VMHIVE_TRY(reader.get_object<kvm_debugregs>());
  state.lapic = VMHIVE_TRY(reader.get_object<kvm_lapic_state>());
  const uint32_t msrs = VMHIVE_TRY(reader.get_u32());
  if (msrs > kMaxMsrs) return make_error("vCPU " + std::to_string(index) + " section: " + std::to_string(msrs) + " MSRs");
  for (uint32_t i = 0; i < msrs; ++i) {
    const uint32_t msr = VMHIVE_TRY(reader.get_u32());
    state.msrs.push_back(kvm::MsrValue{msr, VMHIVE_TRY(reader.get_u64())});
  }
  VMHIVE_CHECK(reader.expect_end());
  if (state.xcrs.nr_xcrs > KVM_MAX_XCRS)
    return make_error("vCPU " + std::to_string(index) + " section: " + std::to_string(state.xcrs.nr_xcrs) + " XCRs");
  return state;
}

std::vector<uint8_t> encode_vm(const VmState& state) {
  ByteWriter writer;
  writer.put_object(state.pic_master);
  writer.put_object(state.pic_slave);
  writer.put_object(state.ioapic);
  writer.put_object(state.pit);
  writer.put_object(state.clock);
  return writer.take();
}

Result<VmState> decode_vm(std::span<const uint8_t> bytes) {
  ByteReader reader(bytes, "VM section");
  VmState state;
  state.pic_master = VMHIVE_TRY(reader.get_object<kvm_irqchip>());
  state.pic_slave = VMHIVE_TRY(reader.get_object<kvm_irqchip>());
  state.ioapic = VMHIVE_TRY(reader.get_object<kvm_irqchip>());
  state.pit = VMHIVE_TRY(reader.get_object<kvm_pit_state2>());
  state.clock = VMHIVE_TRY(reader.get_object<kvm_clock_data>());
  VMHIVE_CHECK(reader.expect_end());
  if (state.pic_master.chip_id != KVM_IRQCHIP_PIC_MASTER || state.pic_slave.chip_id != KVM_IRQCHIP_PIC_SLAVE ||
      state.ioapic.chip_id != KVM_IRQCHIP_IOAPIC)
    return make_error("VM section: interrupt controllers out of order");
  return state;
}

std::vector<uint8_t> encode_uart(const devices::Uart8250::State& state) {
  ByteWriter writer;
  for (uint8_t value : {state.ier, state.fcr, state.lcr, state.mcr, state.msr_deltas, state.scratch,
                        state.divisor_low, state.divisor_high}) {
    writer.put_u8(value);
  }
  writer.put_u8(state.thr_empty_interrupt ? 1 : 0);
  writer.put_u8(state.irq_level ? 1 : 0);
  writer.put_u32(static_cast<uint32_t>(state.receive_fifo.size()));
  writer.put_bytes(state.receive_fifo);
  return writer.take();
}

Result<bool> get_bool(ByteReader& reader, const char* what) {
  const uint8_t value = VMHIVE_TRY(reader.get_u8());
  if (value > 1) return make_error(std::string(what) + ": a flag is " + std::to_string(value) + ", not 0 or 1");
  return value == 1;
}

Result<devices::Uart8250::State> decode_uart(std::span<const uint8_t> bytes) {
  ByteReader reader(bytes, "UART section");
  devices::Uart8250::State state{};
  for (uint8_t* field : {&state.ier, &state.fcr, &state.lcr, &state.mcr, &state.msr_deltas, &state.scratch,
                         &state.divisor_low, &state.divisor_high}) {
    *field = VMHIVE_TRY(reader.get_u8());
  }
  state.thr_empty_interrupt = VMHIVE_TRY(get_bool(reader, "UART section"));
  state.irq_level = VMHIVE_TRY(get_bool(reader, "UART section"));
  const uint32_t fifo = VMHIVE_TRY(reader.get_u32());
  if (fifo > kMaxFifo) return make_error("UART section: receive FIFO of " + std::to_string(fifo) + " bytes");
  auto bytes_in_fifo = VMHIVE_TRY(reader.get_bytes(fifo));
  state.receive_fifo.assign(bytes_in_fifo.begin(), bytes_in_fifo.end());
  VMHIVE_CHECK(reader.expect_end());
  return state;
}

std::vector<uint8_t> encode_rtc(const devices::CmosRtc::State& state) {
  ByteWriter writer;
  writer.put_u8(state.index);
  writer.put_bytes(state.ram);
  writer.put_u64(static_cast<uint64_t>(state.frozen_time));
  return writer.take();
}

Result<devices::CmosRtc::State> decode_rtc(std::span<const uint8_t> bytes) {
  ByteReader reader(bytes, "RTC section");
  devices::CmosRtc::State state{};
  state.index = VMHIVE_TRY(reader.get_u8());
  auto ram = VMHIVE_TRY(reader.get_bytes(state.ram.size()));
  std::copy(ram.begin(), ram.end(), state.ram.begin());
  state.frozen_time = static_cast<int64_t>(VMHIVE_TRY(reader.get_u64()));
  VMHIVE_CHECK(reader.expect_end());
  return state;
}

void put_optional(ByteWriter& writer, const std::optional<uint8_t>& value) {
  writer.put_u8(value.has_value() ? 1 : 0);
  writer.put_u8(value.value_or(0));
}

Result<std::optional<uint8_t>> get_optional(ByteReader& reader) {
  const bool present = VMHIVE_TRY(get_bool(reader, "i8042 section"));
  const uint8_t value = VMHIVE_TRY(reader.get_u8());
  return present ? std::optional<uint8_t>(value) : std::nullopt;
}

std::vector<uint8_t> encode_i8042(const devices::I8042::State& state) {
  ByteWriter writer;
  put_optional(writer, state.output_buffer);
  put_optional(writer, state.pending_command);
  writer.put_u8(state.command_byte);
  writer.put_u8(state.last_write_was_command ? 1 : 0);
  return writer.take();
}

Result<devices::I8042::State> decode_i8042(std::span<const uint8_t> bytes) {
  ByteReader reader(bytes, "i8042 section");
  devices::I8042::State state{};
  state.output_buffer = VMHIVE_TRY(get_optional(reader));
  state.pending_command = VMHIVE_TRY(get_optional(reader));
  state.command_byte = VMHIVE_TRY(reader.get_u8());
  state.last_write_was_command = VMHIVE_TRY(get_bool(reader, "i8042 section"));
  VMHIVE_CHECK(reader.expect_end());
  return state;
}

std::vector<uint8_t> encode_repair(const SyscallRepairState& state) {
  ByteWriter writer;
  writer.put_u64(state.handler);
  writer.put_u8(state.stepping ? 1 : 0);
  return writer.take();
}

Result<SyscallRepairState> decode_repair(std::span<const uint8_t> bytes) {
  ByteReader reader(bytes, "SYSCALL repair section");
  SyscallRepairState state;
  state.handler = VMHIVE_TRY(reader.get_u64());
  state.stepping = VMHIVE_TRY(get_bool(reader, "SYSCALL repair section"));
  VMHIVE_CHECK(reader.expect_end());
  return state;
}

}  // namespace

std::vector<uint8_t> encode_machine_state(const MachineState& state) {
  StateFileWriter writer;
  writer.add(kMachineSection, 0, encode_description(state.description));
  for (uint32_t index = 0; index < state.vcpus.size(); ++index) writer.add(kVcpuSection, index, encode_vcpu(state.vcpus[index]));
  writer.add(kVmSection, 0, encode_vm(state.vm));
  writer.add(kUartSection, 0, encode_uart(state.uart));
  writer.add(kRtcSection, 0, encode_rtc(state.rtc));
  writer.add(kI8042Section, 0, encode_i8042(state.i8042));
  for (uint32_t index = 0; index < state.syscall_repairs.size(); ++index)
    writer.add(kSyscallRepairSection, index, encode_repair(state.syscall_repairs[index]));
  return writer.finish();
}

// Finds a section and decodes it with `decode`.
template <class Decode>
auto decode_section(const StateFile& file, uint32_t tag, uint32_t instance, Decode decode)
    -> decltype(decode(std::span<const uint8_t>{})) {
  auto payload = file.section(tag, instance);
  if (!payload.ok()) return payload.error();
  return decode(*payload);
}

Result<MachineState> decode_machine_state(const StateFile& file) {
  for (const auto& section : file.sections()) {
    if (section.tag < kMachineSection || section.tag > kSyscallRepairSection)
      return make_error("state file has a section with unknown tag " + std::to_string(section.tag));
  }
  MachineState state;
  state.description = VMHIVE_TRY(decode_section(file, kMachineSection, 0, decode_description));
  const uint32_t vcpus = state.description.vcpu_count;
  if (file.count(kVcpuSection) != vcpus)
    return make_error("state file has " + std::to_string(file.count(kVcpuSection)) + " vCPU sections for " +
                      std::to_string(vcpus) + " vCPUs");
  for (uint32_t index = 0; index < vcpus; ++index) {
    auto decode = [index](std::span<const uint8_t> bytes) { return decode_vcpu(bytes, index); };
    state.vcpus.push_back(VMHIVE_TRY(decode_section(file, kVcpuSection, index, decode)));
  }
  state.vm = VMHIVE_TRY(decode_section(file, kVmSection, 0, decode_vm));
  state.uart = VMHIVE_TRY(decode_section(file, kUartSection, 0, decode_uart));
  state.rtc = VMHIVE_TRY(decode_section(file, kRtcSection, 0, decode_rtc));
  state.i8042 = VMHIVE_TRY(decode_section(file, kI8042Section, 0, decode_i8042));
  const size_t repairs = file.count(kSyscallRepairSection);
  if (repairs != 0 && repairs != vcpus)
    return make_error("state file has " + std::to_string(repairs) + " SYSCALL repair sections for " +
                      std::to_string(vcpus) + " vCPUs");
  for (uint32_t index = 0; index < repairs; ++index)
    state.syscall_repairs.push_back(VMHIVE_TRY(decode_section(file, kSyscallRepairSection, index, decode_repair)));
  return state;
}

}  // namespace vmhive::snapshot
