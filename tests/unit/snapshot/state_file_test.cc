// The snapshot state file container and the machine-state sections inside it:
// round trips, and a clear refusal for each kind of damaged file.
#include "snapshot/state_file.h"

#include <gtest/gtest.h>

#include <zlib.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/byte_codec.h"
#include "common/state_codec.h"
#include "devices/virtio/block/block_persist.h"
#include "devices/virtio/net/net_persist.h"
#include "snapshot/machine_state.h"

namespace vmhive::snapshot {
namespace {

std::vector<uint8_t> two_sections() {
  StateFileWriter writer;
  writer.add(1, 0, {1, 2, 3});
  writer.add(2, 5, {});
  writer.add(2, 6, std::vector<uint8_t>(100, 0xab));
  return writer.finish();
}

void put_u32(std::vector<uint8_t>& bytes, size_t offset, uint32_t value) { std::memcpy(&bytes[offset], &value, 4); }

// Recomputes the header CRC after a test edits the header on purpose.
void reseal_header(std::vector<uint8_t>& bytes) {
  put_u32(bytes, 24, static_cast<uint32_t>(::crc32(::crc32(0L, Z_NULL, 0), bytes.data(), 24)));
}

std::string parse_error(const std::vector<uint8_t>& bytes) {
  auto parsed = StateFile::parse(bytes);
  return parsed.ok() ? std::string("(parsed)") : parsed.error().message;
}

TEST(StateFile, RoundTripsSections) {
  auto parsed = StateFile::parse(two_sections());
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->sections().size(), 3u);
  EXPECT_EQ(parsed->count(2), 2u);
  auto first = parsed->section(1);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(std::vector<uint8_t>(first->begin(), first->end()), (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_EQ(parsed->section(2, 6)->size(), 100u);
  EXPECT_NE(parsed->section(3).error().message.find("no section with tag 3"), std::string::npos);
}

TEST(StateFile, RefusesEachKindOfDamage) {
  const auto good = two_sections();
  auto bytes = good;
  bytes.resize(20);
  EXPECT_NE(parse_error(bytes).find("shorter than the 32-byte header"), std::string::npos);

  bytes = good;
  bytes[0] = 'X';
  EXPECT_NE(parse_error(bytes).find("bad magic"), std::string::npos);

  bytes = good;
  bytes[9] ^= 1;  // version, without resealing
  EXPECT_NE(parse_error(bytes).find("header checksum mismatch"), std::string::npos);

  bytes = good;
  put_u32(bytes, 8, 7);
  reseal_header(bytes);
  EXPECT_NE(parse_error(bytes).find("format version 7 is not supported"), std::string::npos);

  bytes = good;
  put_u32(bytes, 28, 1);
  EXPECT_NE(parse_error(bytes).find("reserved header field"), std::string::npos);

  bytes = good;
  bytes.push_back(0);
  EXPECT_NE(parse_error(bytes).find("header says"), std::string::npos);

  bytes = good;
  put_u32(bytes, 12, 1000000);  // section count
  reseal_header(bytes);
  EXPECT_NE(parse_error(bytes).find("cannot fit"), std::string::npos);

  bytes = good;
  put_u32(bytes, 12, 2);  // one section too few: its bytes are left over
  reseal_header(bytes);
  EXPECT_NE(parse_error(bytes).find("after the last section"), std::string::npos);

  bytes = good;
  bytes[32 + 24] ^= 0xff;  // first payload byte
  EXPECT_NE(parse_error(bytes).find("section 0 (tag 1, instance 0): checksum mismatch"), std::string::npos);

  bytes = good;
  put_u32(bytes, 32 + 20, 9);  // first section's reserved field
  EXPECT_NE(parse_error(bytes).find("reserved field is not zero"), std::string::npos);

  bytes = good;
  put_u32(bytes, 32 + 8, 0x10000);  // first section's length
  EXPECT_NE(parse_error(bytes).find("payload runs past the end"), std::string::npos);

  bytes = good;
  put_u32(bytes, 32 + 4, 1);  // first section's instance
  EXPECT_NE(parse_error(bytes).find("checksum mismatch"), std::string::npos);

  StateFileWriter twice;
  twice.add(4, 1, {});
  twice.add(4, 1, {});
  EXPECT_NE(parse_error(twice.finish()).find("appears twice"), std::string::npos);
}

// No single flipped byte gets through unnoticed.
TEST(StateFile, EveryFlippedByteIsCaught) {
  const auto good = two_sections();
  for (size_t i = 0; i < good.size(); ++i) {
    auto bytes = good;
    bytes[i] ^= 0x01;
    EXPECT_FALSE(StateFile::parse(bytes).ok()) << "byte " << i;
  }
}

TEST(ByteCodec, RoundTripAndTruncation) {
  ByteWriter writer;
  writer.put_u8(1);
  writer.put_u16(0x0203);
  writer.put_u32(0x04050607);
  writer.put_u64(0x08090a0b0c0d0e0full);
  writer.put_string("hive");
  ByteReader reader(writer.bytes(), "test");
  EXPECT_EQ(*reader.get_u8(), 1);
  EXPECT_EQ(*reader.get_u16(), 0x0203);
  EXPECT_EQ(*reader.get_u32(), 0x04050607u);
  EXPECT_EQ(*reader.get_u64(), 0x08090a0b0c0d0e0full);
  EXPECT_EQ(*reader.get_string(16), "hive");
  EXPECT_TRUE(reader.expect_end().ok());
  auto past = reader.get_u32();
  ASSERT_FALSE(past.ok());
  EXPECT_NE(past.error().message.find("test: truncated at byte 23, need 4 more"), std::string::npos)
      << past.error().message;

  ByteWriter long_string;
  long_string.put_string(std::string(100, 'x'));
  ByteReader limited(long_string.bytes(), "name");
  EXPECT_NE(limited.get_string(10).error().message.find("at most 10"), std::string::npos);
  ByteReader leftover(long_string.bytes(), "extra");
  EXPECT_NE(leftover.expect_end().error().message.find("104 unexpected bytes"), std::string::npos);
}

MachineState small_machine(uint32_t vcpus) {
  MachineState state;
  state.description.memory_size = 64ull << 20;
  state.description.vcpu_count = vcpus;
  state.description.backend = "pvm";
  state.description.cpu_template = "pvm";
  state.description.memory_file_size = 64ull << 20;
  kvm_cpuid_entry2 leaf{};
  leaf.function = 1;
  leaf.ecx = 0x80000000u;
  state.description.cpuid.push_back(leaf);
  state.vcpus.resize(vcpus);
  for (uint32_t i = 0; i < vcpus; ++i) {
    state.vcpus[i].regs.rip = 0x1000 + i;
    state.vcpus[i].msrs = {{0x10, 12345 + i}, {0xc0000082, 0xffffffff81000000ull}};
  }
  state.vm.pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
  state.vm.pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
  state.vm.ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
  state.uart.ier = 3;
  state.uart.receive_fifo = {'a', 'b'};
  state.rtc.ram[10] = 0x26;
  state.i8042.output_buffer = 0xfa;
  return state;
}

Result<MachineState> decode(const std::vector<uint8_t>& bytes) {
  auto file = StateFile::parse(bytes);
  if (!file.ok()) return file.error();
  return decode_machine_state(*file);
}

TEST(MachineStateSections, RoundTrip) {
  auto decoded = decode(encode_machine_state(small_machine(2)));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->description.vcpu_count, 2u);
  EXPECT_EQ(decoded->description.backend, "pvm");
  ASSERT_EQ(decoded->vcpus.size(), 2u);
  EXPECT_EQ(decoded->vcpus[1].regs.rip, 0x1001u);
  ASSERT_EQ(decoded->vcpus[1].msrs.size(), 2u);
  EXPECT_EQ(decoded->vcpus[1].msrs[0].value, 12346u);
  EXPECT_EQ(decoded->uart.ier, 3);
  EXPECT_EQ(decoded->uart.receive_fifo, (std::vector<uint8_t>{'a', 'b'}));
  EXPECT_EQ(decoded->rtc.ram[10], 0x26);
  EXPECT_EQ(decoded->i8042.output_buffer, std::optional<uint8_t>(0xfa));
  EXPECT_FALSE(decoded->i8042.pending_command.has_value());
}

// A snapshot made before the i8042 had a keyboard has one i8042 section:
// it restores with the keyboard as it powers up.
TEST(MachineStateSections, ASnapshotWithoutTheKeyboardSectionGetsADefaultKeyboard) {
  auto state = small_machine(1);
  state.keyboard.keyboard.queue = {0x14};
  state.keyboard.keyboard.scanning = false;
  const auto bytes = encode_machine_state(state);
  auto file = StateFile::parse(bytes);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->count(kI8042Section), 2u);
  StateFileWriter older;
  for (const auto& section : file->sections()) {
    if (section.tag == kI8042Section && section.instance == 1) continue;
    older.add(section.tag, section.instance, section.payload);
  }
  auto decoded = decode(older.finish());
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_TRUE(decoded->keyboard.keyboard.queue.empty());
  EXPECT_TRUE(decoded->keyboard.keyboard.scanning);
  auto full = decode(bytes);
  ASSERT_TRUE(full.ok()) << full.error().message;
  EXPECT_EQ(full->keyboard.keyboard.queue, (std::vector<uint8_t>{0x14}));
  EXPECT_FALSE(full->keyboard.keyboard.scanning);
}

// Where the kernel's text is travels with the snapshot (for
// restore --write-protect-text); a snapshot from before has none, and a
// range that is not whole pages of RAM is refused.
TEST(MachineStateSections, KernelTextRoundTripsAndIsChecked) {
  auto state = small_machine(1);
  state.kernel_text.ranges = {{0x100000, 0x3000}, {0x1000000, 0x200000}};
  auto decoded = decode(encode_machine_state(state));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->kernel_text.ranges, state.kernel_text.ranges);
  auto file = StateFile::parse(encode_machine_state(state));
  ASSERT_TRUE(file.ok());
  StateFileWriter older;
  for (const auto& section : file->sections())
    if (!(section.tag == kMachineSection && section.instance == 1)) older.add(section.tag, section.instance, section.payload);
  auto without = decode(older.finish());
  ASSERT_TRUE(without.ok()) << without.error().message;
  EXPECT_TRUE(without->kernel_text.ranges.empty());
  for (const GuestRange& bad : {GuestRange{0x100001, 0x1000}, GuestRange{0x100000, 0x1001}, GuestRange{0x100000, 0},
                                GuestRange{64ull << 20, 0x1000}, GuestRange{0x1000, ~0ull - 0xfff}}) {
    auto broken = small_machine(1);
    broken.kernel_text.ranges = {bad};
    auto refused = decode(encode_machine_state(broken));
    ASSERT_FALSE(refused.ok()) << bad.start << "+" << bad.size;
    EXPECT_NE(refused.error().message.find("kernel text section"), std::string::npos) << refused.error().message;
  }
}

TEST(MachineStateSections, RefusesInconsistentContents) {
  // A vCPU section missing for the count the machine section gives.
  auto state = small_machine(2);
  auto bytes = encode_machine_state(state);
  auto file = StateFile::parse(bytes);
  ASSERT_TRUE(file.ok());
  StateFileWriter missing_vcpu;
  for (const auto& section : file->sections()) {
    if (section.tag == kVcpuSection && section.instance == 1) continue;
    missing_vcpu.add(section.tag, section.instance, section.payload);
  }
  EXPECT_NE(decode(missing_vcpu.finish()).error().message.find("1 vCPU sections for 2 vCPUs"), std::string::npos);

  // An unknown section tag.
  StateFileWriter unknown;
  for (const auto& section : file->sections()) unknown.add(section.tag, section.instance, section.payload);
  unknown.add(99, 0, {});
  EXPECT_NE(decode(unknown.finish()).error().message.find("unknown tag 99"), std::string::npos);

  auto zero_cpus = small_machine(1);
  zero_cpus.description.vcpu_count = 0;
  zero_cpus.vcpus.clear();
  EXPECT_NE(decode(encode_machine_state(zero_cpus)).error().message.find("0 vCPUs"), std::string::npos);

  auto odd_memory = small_machine(1);
  odd_memory.description.memory_size = 12345;
  EXPECT_NE(decode(encode_machine_state(odd_memory)).error().message.find("not a whole number of pages"),
            std::string::npos);

  auto big_fifo = small_machine(1);
  big_fifo.uart.receive_fifo.assign(5000, 'x');
  EXPECT_NE(decode(encode_machine_state(big_fifo)).error().message.find("receive FIFO of 5000"), std::string::npos);

  // A section cut short (re-sealed, so only the contents are wrong).
  StateFileWriter short_vm;
  for (const auto& section : file->sections()) {
    auto payload = section.payload;
    if (section.tag == kVmSection) payload.resize(payload.size() - 1);
    short_vm.add(section.tag, section.instance, payload);
  }
  EXPECT_NE(decode(short_vm.finish()).error().message.find("VM section: truncated"), std::string::npos);
}

// A virtio function's state with every field set to something of its own, so
// that a field the codec drops or swaps shows.
virtio::FunctionState virtio_function(virtio::DeviceType type, uint8_t slot, unsigned queues) {
  virtio::FunctionState function;
  function.device_type = static_cast<uint16_t>(type);
  function.slot = slot;
  virtio::PciTransport::State& transport = function.transport;
  transport.config_space.resize(256);
  for (size_t i = 0; i < 256; ++i) transport.config_space[i] = static_cast<uint8_t>(i * 7 + slot);
  for (unsigned vector = 0; vector <= queues; ++vector)
    transport.msix.entries.push_back({0xfee00000u + vector, slot, 0x4000u + vector, vector % 2});
  transport.msix.pending = {0b10};
  transport.msix.enabled = true;
  transport.msix.function_masked = slot % 2 == 0;
  transport.device_feature_select = 1;
  transport.driver_feature_select = 0;
  transport.driver_features = virtio::kFeatureVersion1 | virtio::kFeatureEventIdx | slot;
  transport.config_vector = static_cast<uint16_t>(queues);
  transport.status = virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusFeaturesOk |
                     virtio::kStatusDriverOk;
  transport.config_generation = 3;
  transport.queue_select = static_cast<uint16_t>(queues - 1);
  transport.isr = 1;
  for (unsigned index = 0; index < queues; ++index) {
    virtio::PciTransport::QueueState queue;
    queue.size = 256;
    queue.vector = static_cast<uint16_t>(index);
    queue.enabled = true;
    queue.started = index != 1;
    const uint64_t base = 0x100000ull * (slot * 4 + index + 1);
    queue.rings = virtio::VirtqueueState{256, base, base + 0x1000, base + 0x2000,
                                         static_cast<uint16_t>(1000 + index), static_cast<uint16_t>(990 + index),
                                         static_cast<uint16_t>(980 + index)};
    transport.queues.push_back(queue);
  }
  return function;
}

MachineState machine_with_virtio() {
  MachineState state = small_machine(1);
  virtio::FunctionState block = virtio_function(virtio::DeviceType::kBlock, 1, 1);
  block.device = encode_state(virtio::BlockState{.image = "disk-0", .size = 64ull << 20, .serial = "vmhive-disk-7"});
  virtio::FunctionState net = virtio_function(virtio::DeviceType::kNet, 2, 2);
  net.device = encode_state(virtio::NetState{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}});
  virtio::FunctionState entropy = virtio_function(virtio::DeviceType::kEntropy, 31, 1);
  state.virtio = {block, net, entropy};
  return state;
}

virtio::BlockState block_state(const virtio::FunctionState& function) {
  auto state = decode_state<virtio::BlockState>(function.device, "block");
  EXPECT_TRUE(state.ok()) << state.error().message;
  return state.ok() ? *state : virtio::BlockState{};
}

void expect_same_function(const virtio::FunctionState& a, const virtio::FunctionState& b) {
  EXPECT_EQ(a.device_type, b.device_type);
  EXPECT_EQ(a.slot, b.slot);
  EXPECT_EQ(a.device, b.device);
  if (a.device_type == static_cast<uint16_t>(virtio::DeviceType::kBlock)) {
    const auto x = block_state(a);
    const auto y = block_state(b);
    EXPECT_EQ(x.image, y.image);
    EXPECT_EQ(x.shared, y.shared);
    EXPECT_EQ(x.size, y.size);
    EXPECT_EQ(x.mtime_ns, y.mtime_ns);
    EXPECT_EQ(x.device, y.device);
    EXPECT_EQ(x.inode, y.inode);
    EXPECT_EQ(x.serial, y.serial);
  }
  if (a.device_type == static_cast<uint16_t>(virtio::DeviceType::kNet)) {
    auto x = decode_state<virtio::NetState>(a.device, "net");
    auto y = decode_state<virtio::NetState>(b.device, "net");
    ASSERT_TRUE(x.ok() && y.ok());
    EXPECT_EQ(x->mac, y->mac);
  }
  const auto& x = a.transport;
  const auto& y = b.transport;
  EXPECT_EQ(x.config_space, y.config_space);
  EXPECT_EQ(x.msix.entries, y.msix.entries);
  EXPECT_EQ(x.msix.pending, y.msix.pending);
  EXPECT_EQ(x.msix.enabled, y.msix.enabled);
  EXPECT_EQ(x.msix.function_masked, y.msix.function_masked);
  EXPECT_EQ(x.device_feature_select, y.device_feature_select);
  EXPECT_EQ(x.driver_feature_select, y.driver_feature_select);
  EXPECT_EQ(x.driver_features, y.driver_features);
  EXPECT_EQ(x.config_vector, y.config_vector);
  EXPECT_EQ(x.status, y.status);
  EXPECT_EQ(x.config_generation, y.config_generation);
  EXPECT_EQ(x.queue_select, y.queue_select);
  EXPECT_EQ(x.isr, y.isr);
  ASSERT_EQ(x.queues.size(), y.queues.size());
  for (size_t i = 0; i < x.queues.size(); ++i) {
    SCOPED_TRACE("queue " + std::to_string(i));
    const auto& p = x.queues[i];
    const auto& q = y.queues[i];
    EXPECT_EQ(p.size, q.size);
    EXPECT_EQ(p.vector, q.vector);
    EXPECT_EQ(p.enabled, q.enabled);
    EXPECT_EQ(p.started, q.started);
    EXPECT_EQ(p.rings.size, q.rings.size);
    EXPECT_EQ(p.rings.descriptor_table, q.rings.descriptor_table);
    EXPECT_EQ(p.rings.available_ring, q.rings.available_ring);
    EXPECT_EQ(p.rings.used_ring, q.rings.used_ring);
    EXPECT_EQ(p.rings.next_available, q.rings.next_available);
    EXPECT_EQ(p.rings.next_used, q.rings.next_used);
    EXPECT_EQ(p.rings.used_at_last_interrupt, q.rings.used_at_last_interrupt);
  }
}

std::string decode_error(const MachineState& state) {
  auto decoded = decode(encode_machine_state(state));
  return decoded.ok() ? std::string("(decoded)") : decoded.error().message;
}

TEST(MachineStateVirtio, RoundTripsBlockNetAndEntropy) {
  const MachineState state = machine_with_virtio();
  auto decoded = decode(encode_machine_state(state));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  ASSERT_EQ(decoded->virtio.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE("function " + std::to_string(i));
    expect_same_function(decoded->virtio[i], state.virtio[i]);
  }
  EXPECT_EQ(block_state(decoded->virtio[0]).serial, "vmhive-disk-7");
  EXPECT_EQ(decoded->virtio[1].transport.queues.size(), 2u);
  EXPECT_EQ(decoded->uart.ier, 3) << "the other sections are still there";
}

TEST(MachineStateVirtio, ASharedDiskKeepsItsAbsolutePathAndTime) {
  MachineState state = machine_with_virtio();
  state.virtio[0].device =
      encode_state(virtio::BlockState{.image = "/images/base.img",
                                      .shared = true,
                                      .size = 1ull << 30,
                                      .mtime_ns = 1'700'000'000'123'456'789,
                                      .device = 2049,
                                      .inode = 77,
                                      .serial = "base"});
  auto decoded = decode(encode_machine_state(state));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  expect_same_function(decoded->virtio[0], state.virtio[0]);
}

TEST(MachineStateVirtio, AMachineWithoutVirtioHasNoSections) {
  const auto bytes = encode_machine_state(small_machine(1));
  auto file = StateFile::parse(bytes);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->count(kVirtioSection), 0u);
  EXPECT_TRUE(decode(bytes)->virtio.empty());
}

TEST(MachineStateVirtio, RefusesUnknownTypesAndSlots) {
  MachineState state = machine_with_virtio();
  state.virtio[1].device_type = 3;  // virtio console: not something vmhive has
  EXPECT_NE(decode_error(state).find("virtio section 1: unknown virtio device type 3"), std::string::npos)
      << decode_error(state);
  state = machine_with_virtio();
  state.virtio[2].slot = 0;  // the host bridge's
  EXPECT_NE(decode_error(state).find("virtio section 2: PCI slot 0"), std::string::npos) << decode_error(state);
  state.virtio[2].slot = 32;
  EXPECT_NE(decode_error(state).find("PCI slot 32"), std::string::npos);
  state.virtio[2].slot = 31;
  EXPECT_EQ(decode_error(state), "(decoded)");
}

TEST(MachineStateVirtio, RefusesAConfigurationSpaceThatIsNot256Bytes) {
  MachineState state = machine_with_virtio();
  state.virtio[0].transport.config_space.resize(255);
  EXPECT_NE(decode_error(state).find("configuration space of 255 bytes"), std::string::npos) << decode_error(state);
  state.virtio[0].transport.config_space.resize(4096);
  EXPECT_NE(decode_error(state).find("configuration space of 4096 bytes"), std::string::npos);
}

TEST(MachineStateVirtio, RefusesMoreThan64Queues) {
  MachineState state = machine_with_virtio();
  auto& queues = state.virtio[1].transport.queues;
  queues.resize(64, queues[0]);
  EXPECT_EQ(decode_error(state), "(decoded)") << "64 is the limit";
  queues.push_back(queues[0]);
  EXPECT_NE(decode_error(state).find("virtio section 1: 65 queues"), std::string::npos) << decode_error(state);
}

TEST(MachineStateVirtio, RefusesMsixArraysThatDisagree) {
  MachineState state = machine_with_virtio();
  state.virtio[0].transport.msix.pending = {0, 0};
  EXPECT_NE(decode_error(state).find("2 MSI-X pending words for 2 vectors"), std::string::npos) << decode_error(state);
  state = machine_with_virtio();
  state.virtio[0].transport.msix.entries.resize(2049);
  state.virtio[0].transport.msix.pending.resize(33);
  EXPECT_NE(decode_error(state).find("2049 MSI-X vectors"), std::string::npos) << decode_error(state);
}

TEST(MachineStateVirtio, RefusesDiskImagesOutsideTheSnapshot) {
  auto with_disk = [](std::string image, bool shared) {
    MachineState state = machine_with_virtio();
    auto disk = block_state(state.virtio[0]);
    disk.image = std::move(image);
    disk.shared = shared;
    state.virtio[0].device = encode_state(disk);
    return decode_error(state);
  };
  EXPECT_NE(with_disk("../x", false).find("is neither a file of the snapshot nor a shared image's absolute path"),
            std::string::npos)
      << with_disk("../x", false);
  EXPECT_NE(with_disk("sub/disk-0", false).find("neither"), std::string::npos);
  EXPECT_NE(with_disk("/etc/passwd", false).find("neither"), std::string::npos) << "absolute, not shared";
  EXPECT_NE(with_disk("base.img", true).find("neither"), std::string::npos) << "shared, not absolute";
  EXPECT_NE(with_disk("", false).find("a disk without an image"), std::string::npos);
  EXPECT_EQ(with_disk("/images/base.img", true), "(decoded)");
  EXPECT_EQ(with_disk("disk-0", false), "(decoded)");

  MachineState odd_size = machine_with_virtio();
  auto disk = block_state(odd_size.virtio[0]);
  disk.size = 1000;
  odd_size.virtio[0].device = encode_state(disk);
  EXPECT_NE(decode_error(odd_size).find("size of 1000"), std::string::npos) << decode_error(odd_size);
}

TEST(MachineStateVirtio, RefusesDamagedPayloads) {
  const auto bytes = encode_machine_state(machine_with_virtio());
  auto file = StateFile::parse(bytes);
  ASSERT_TRUE(file.ok());
  // Re-encodes the file with the payload of virtio section 1 changed by `edit`.
  auto edited = [&](auto edit) {
    StateFileWriter writer;
    for (const auto& section : file->sections()) {
      auto payload = section.payload;
      if (section.tag == kVirtioSection && section.instance == 1) edit(payload);
      writer.add(section.tag, section.instance, payload);
    }
    auto decoded = decode(writer.finish());
    return decoded.ok() ? std::string("(decoded)") : decoded.error().message;
  };
  EXPECT_NE(edited([](std::vector<uint8_t>& payload) { payload.pop_back(); }).find("virtio section 1: truncated"),
            std::string::npos);
  EXPECT_NE(edited([](std::vector<uint8_t>& payload) { payload.push_back(0); }).find("unexpected bytes"),
            std::string::npos);
  // The net function's transport: after type (2), slot (1), the device
  // state (a 4-byte length and the 6-byte MAC) and the configuration space
  // (a 4-byte length and 256 bytes) come the MSI-X table (three vectors:
  // a 4-byte count and 16 bytes each) and its pending words (a 4-byte count
  // and one word), then the enabled flag.
  EXPECT_NE(edited([](std::vector<uint8_t>& payload) { payload[2 + 1 + 4 + 6 + 4 + 256 + 4 + 3 * 16 + 4 + 8] = 2; })
                .find("a flag is 2, not 0 or 1"),
            std::string::npos);

  // Instances must run 0, 1, 2: a gap is a missing section.
  StateFileWriter gap;
  for (const auto& section : file->sections())
    gap.add(section.tag, section.tag == kVirtioSection && section.instance == 2 ? 5 : section.instance, section.payload);
  auto decoded = decode(gap.finish());
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error().message.find("no section with tag 8"), std::string::npos) << decoded.error().message;
}

TEST(MachineStateVirtio, RefusesMoreFunctionsThanTheBusHolds) {
  MachineState state = small_machine(1);
  for (uint8_t slot = 1; slot <= 31; ++slot) state.virtio.push_back(virtio_function(virtio::DeviceType::kEntropy, slot, 1));
  EXPECT_EQ(decode_error(state), "(decoded)");
  state.virtio.push_back(virtio_function(virtio::DeviceType::kEntropy, 1, 1));
  EXPECT_NE(decode_error(state).find("32 virtio sections (at most 31)"), std::string::npos) << decode_error(state);
}

}  // namespace
}  // namespace vmhive::snapshot
