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

constexpr uint32_t kMaxMsixVectors = 2048;
constexpr uint32_t kMaxQueues = 64;
constexpr size_t kMaxPath = 4096;
constexpr size_t kMaxSerial = 20;
constexpr uint32_t kMaxVirtioFunctions = 31;

std::vector<uint8_t> encode_virtio(const VirtioFunctionState& state) {
  ByteWriter writer;
  writer.put_u16(state.device_type);
  writer.put_u8(state.slot);
  writer.put_string(state.disk.image);
  writer.put_u8(state.disk.shared ? 1 : 0);
  writer.put_u64(state.disk.size);
  writer.put_u64(static_cast<uint64_t>(state.disk.mtime_ns));
  writer.put_string(state.disk.serial);
  writer.put_bytes(state.mac);
  const virtio::PciTransport::State& transport = state.transport;
  writer.put_u32(static_cast<uint32_t>(transport.config_space.size()));
  writer.put_bytes(transport.config_space);
  writer.put_u32(static_cast<uint32_t>(transport.msix.entries.size()));
  for (const auto& entry : transport.msix.entries) {
    for (uint32_t dword : entry) writer.put_u32(dword);
  }
  writer.put_u32(static_cast<uint32_t>(transport.msix.pending.size()));
  for (uint64_t word : transport.msix.pending) writer.put_u64(word);
  writer.put_u8(transport.msix.enabled ? 1 : 0);
  writer.put_u8(transport.msix.function_masked ? 1 : 0);
  writer.put_u32(transport.device_feature_select);
  writer.put_u32(transport.driver_feature_select);
  writer.put_u64(transport.driver_features);
  writer.put_u16(transport.config_vector);
  writer.put_u8(transport.status);
  writer.put_u8(transport.config_generation);
  writer.put_u16(transport.queue_select);
  writer.put_u8(transport.isr);
  writer.put_u32(static_cast<uint32_t>(transport.queues.size()));
  for (const auto& queue : transport.queues) {
    writer.put_u16(queue.size);
    writer.put_u16(queue.vector);
    writer.put_u8(queue.enabled ? 1 : 0);
    writer.put_u8(queue.started ? 1 : 0);
    writer.put_u16(queue.rings.size);
    writer.put_u64(queue.rings.descriptor_table);
    writer.put_u64(queue.rings.available_ring);
    writer.put_u64(queue.rings.used_ring);
    writer.put_u16(queue.rings.next_available);
    writer.put_u16(queue.rings.next_used);
    writer.put_u16(queue.rings.used_at_last_interrupt);
  }
  return writer.take();
}

Result<VirtioFunctionState> decode_virtio(std::span<const uint8_t> bytes, uint32_t index) {
  const std::string context = "virtio section " + std::to_string(index);
  ByteReader reader(bytes, context);
  VirtioFunctionState state;
  state.device_type = VMHIVE_TRY(reader.get_u16());
  if (state.device_type != static_cast<uint16_t>(virtio::DeviceType::kBlock) &&
      state.device_type != static_cast<uint16_t>(virtio::DeviceType::kNet) &&
      state.device_type != static_cast<uint16_t>(virtio::DeviceType::kEntropy))
    return make_error(context + ": unknown virtio device type " + std::to_string(state.device_type));
  state.slot = VMHIVE_TRY(reader.get_u8());
  if (state.slot == 0 || state.slot >= 32) return make_error(context + ": PCI slot " + std::to_string(state.slot));
  state.disk.image = VMHIVE_TRY(reader.get_string(kMaxPath));
  state.disk.shared = VMHIVE_TRY(get_bool(reader, context.c_str()));
  state.disk.size = VMHIVE_TRY(reader.get_u64());
  state.disk.mtime_ns = static_cast<int64_t>(VMHIVE_TRY(reader.get_u64()));
  state.disk.serial = VMHIVE_TRY(reader.get_string(kMaxSerial));
  auto mac = VMHIVE_TRY(reader.get_bytes(state.mac.size()));
  std::copy(mac.begin(), mac.end(), state.mac.begin());
  virtio::PciTransport::State& transport = state.transport;
  const uint32_t config_bytes = VMHIVE_TRY(reader.get_u32());
  if (config_bytes != 256) return make_error(context + ": configuration space of " + std::to_string(config_bytes) + " bytes");
  auto config = VMHIVE_TRY(reader.get_bytes(config_bytes));
  transport.config_space.assign(config.begin(), config.end());
  const uint32_t vectors = VMHIVE_TRY(reader.get_u32());
  if (vectors > kMaxMsixVectors) return make_error(context + ": " + std::to_string(vectors) + " MSI-X vectors");
  for (uint32_t vector = 0; vector < vectors; ++vector) {
    std::array<uint32_t, 4> entry{};
    for (uint32_t& dword : entry) dword = VMHIVE_TRY(reader.get_u32());
    transport.msix.entries.push_back(entry);
  }
  const uint32_t pending_words = VMHIVE_TRY(reader.get_u32());
  if (pending_words != (vectors + 63) / 64)
    return make_error(context + ": " + std::to_string(pending_words) + " MSI-X pending words for " +
                      std::to_string(vectors) + " vectors");
  for (uint32_t word = 0; word < pending_words; ++word) transport.msix.pending.push_back(VMHIVE_TRY(reader.get_u64()));
  transport.msix.enabled = VMHIVE_TRY(get_bool(reader, context.c_str()));
  transport.msix.function_masked = VMHIVE_TRY(get_bool(reader, context.c_str()));
  transport.device_feature_select = VMHIVE_TRY(reader.get_u32());
  transport.driver_feature_select = VMHIVE_TRY(reader.get_u32());
  transport.driver_features = VMHIVE_TRY(reader.get_u64());
  transport.config_vector = VMHIVE_TRY(reader.get_u16());
  transport.status = VMHIVE_TRY(reader.get_u8());
  transport.config_generation = VMHIVE_TRY(reader.get_u8());
  transport.queue_select = VMHIVE_TRY(reader.get_u16());
  transport.isr = VMHIVE_TRY(reader.get_u8());
  const uint32_t queues = VMHIVE_TRY(reader.get_u32());
  if (queues > kMaxQueues) return make_error(context + ": " + std::to_string(queues) + " queues");
  for (uint32_t queue_index = 0; queue_index < queues; ++queue_index) {
    virtio::PciTransport::QueueState queue;
    queue.size = VMHIVE_TRY(reader.get_u16());
    queue.vector = VMHIVE_TRY(reader.get_u16());
    queue.enabled = VMHIVE_TRY(get_bool(reader, context.c_str()));
    queue.started = VMHIVE_TRY(get_bool(reader, context.c_str()));
    queue.rings.size = VMHIVE_TRY(reader.get_u16());
    queue.rings.descriptor_table = VMHIVE_TRY(reader.get_u64());
    queue.rings.available_ring = VMHIVE_TRY(reader.get_u64());
    queue.rings.used_ring = VMHIVE_TRY(reader.get_u64());
    queue.rings.next_available = VMHIVE_TRY(reader.get_u16());
    queue.rings.next_used = VMHIVE_TRY(reader.get_u16());
    queue.rings.used_at_last_interrupt = VMHIVE_TRY(reader.get_u16());
    transport.queues.push_back(queue);
  }
  VMHIVE_CHECK(reader.expect_end());
  if (state.device_type == static_cast<uint16_t>(virtio::DeviceType::kBlock)) {
    if (state.disk.image.empty() || state.disk.size == 0 || state.disk.size % 512 != 0)
      return make_error(context + ": a disk without an image or with a size of " + std::to_string(state.disk.size));
    // A copy in the snapshot is disk-<n>, nothing else there (not `memory`, not `..`).
    const bool absolute = state.disk.image.front() == '/';
    const bool copy_name = state.disk.image.rfind("disk-", 0) == 0 && state.disk.image.find('/') == std::string::npos;
    if (absolute != state.disk.shared || (!absolute && !copy_name))
      return make_error(context + ": disk image \"" + state.disk.image +
                        "\" is neither a file of the snapshot nor a shared image's absolute path");
  }
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
  for (uint32_t index = 0; index < state.virtio.size(); ++index)
    writer.add(kVirtioSection, index, encode_virtio(state.virtio[index]));
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
    if (section.tag < kMachineSection || section.tag > kVirtioSection)
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
  const size_t functions = file.count(kVirtioSection);
  if (functions > kMaxVirtioFunctions)
    return make_error("state file has " + std::to_string(functions) + " virtio sections (at most 31)");
  for (uint32_t index = 0; index < functions; ++index) {
    auto decode = [index](std::span<const uint8_t> bytes) { return decode_virtio(bytes, index); };
    state.virtio.push_back(VMHIVE_TRY(decode_section(file, kVirtioSection, index, decode)));
  }
  return state;
}

}  // namespace vmhive::snapshot
