// The snapshot state file container and the machine-state sections inside it:
// round trips, and a clear refusal for each kind of damaged file.
#include "snapshot/state_file.h"

#include <gtest/gtest.h>

#include <zlib.h>

#include <cstring>

#include "snapshot/byte_codec.h"
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

}  // namespace
}  // namespace vmhive::snapshot
