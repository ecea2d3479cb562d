// The MSI-X table: capability layout, programming entries (routes follow the
// message), masking per vector and per function with pending bits, and
// malformed accesses.
#include "devices/pci/msix.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace vmhive::pci {
namespace {

class RecordingSink : public MsiSink {
 public:
  void route(unsigned vector, const MsiMessage& message) override { routes.push_back({vector, message}); }
  void signal(unsigned vector) override { signals.push_back(vector); }
  std::vector<std::pair<unsigned, MsiMessage>> routes;
  std::vector<unsigned> signals;
};

constexpr uint16_t kEnable = 1u << 15;
constexpr uint16_t kFunctionMask = 1u << 14;

void write32(MsixTable& table, uint64_t offset, uint32_t value) {
  table.table_write(offset, std::span(reinterpret_cast<const uint8_t*>(&value), 4));
}
uint32_t read32(MsixTable& table, uint64_t offset) {
  uint32_t value = 0;
  table.table_read(offset, std::span(reinterpret_cast<uint8_t*>(&value), 4));
  return value;
}
uint64_t pending_bits(MsixTable& table) {
  uint64_t value = 0;
  table.pba_read(0, std::span(reinterpret_cast<uint8_t*>(&value), 8));
  return value;
}

// Programs vector `vector` the way Linux does: address, data, then unmask.
void program(MsixTable& table, unsigned vector, uint32_t data) {
  write32(table, 16 * vector, 0xfee00000);
  write32(table, 16 * vector + 4, 0);
  write32(table, 16 * vector + 8, data);
  write32(table, 16 * vector + 12, 0);
}

TEST(Msix, CapabilityDescribesTableAndPba) {
  RecordingSink sink;
  MsixTable table(3, sink);
  auto body = table.capability_body(4, 0x2000, 0x3000);
  uint16_t control;
  uint32_t table_field, pba_field;
  std::memcpy(&control, &body[0], 2);
  std::memcpy(&table_field, &body[2], 4);
  std::memcpy(&pba_field, &body[6], 4);
  EXPECT_EQ(control, 2) << "table size is N-1";
  EXPECT_EQ(table_field, 0x2004u);
  EXPECT_EQ(pba_field, 0x3004u);
  EXPECT_EQ(table.table_bytes(), 48u);
  EXPECT_EQ(table.pba_bytes(), 8u);
  auto writable = MsixTable::capability_writable();
  EXPECT_EQ(writable[1], 0xc0);
  EXPECT_EQ(writable[0], 0);
}

TEST(Msix, EntriesStartMaskedAndRoutesFollowTheMessage) {
  RecordingSink sink;
  MsixTable table(2, sink);
  EXPECT_EQ(read32(table, 12), 1u) << "masked at reset";
  table.set_message_control(kEnable);
  table.notify(0);
  EXPECT_TRUE(sink.signals.empty());
  EXPECT_EQ(pending_bits(table), 1u);

  program(table, 0, 0x4041);
  ASSERT_FALSE(sink.routes.empty());
  EXPECT_EQ(sink.routes.back().first, 0u);
  EXPECT_EQ(sink.routes.back().second, (MsiMessage{0xfee00000, 0x4041}));
  EXPECT_EQ(sink.signals, std::vector<unsigned>{0}) << "the pending interrupt goes out on unmask";
  EXPECT_EQ(pending_bits(table), 0u);

  table.notify(0);
  EXPECT_EQ(sink.signals.size(), 2u);
  EXPECT_EQ(read32(table, 8), 0x4041u);
}

TEST(Msix, FunctionMaskHoldsEverything) {
  RecordingSink sink;
  MsixTable table(2, sink);
  table.set_message_control(kEnable);
  program(table, 0, 1);
  program(table, 1, 2);
  table.set_message_control(kEnable | kFunctionMask);
  table.notify(1);
  EXPECT_TRUE(sink.signals.empty());
  EXPECT_EQ(pending_bits(table), 2u);
  table.set_message_control(kEnable);
  EXPECT_EQ(sink.signals, std::vector<unsigned>{1});
}

TEST(Msix, DisabledOrOutOfRangeInterruptsAreDropped) {
  RecordingSink sink;
  MsixTable table(2, sink);
  program(table, 0, 1);
  table.notify(0);
  table.notify(7);
  EXPECT_TRUE(sink.signals.empty());
  EXPECT_EQ(pending_bits(table), 0u);
  table.set_message_control(kEnable);
  table.notify(7);
  EXPECT_TRUE(sink.signals.empty());
}

TEST(Msix, MalformedAccessesAreHarmless) {
  RecordingSink sink;
  MsixTable table(1, sink);
  uint8_t byte = 0;
  table.table_read(1, std::span(&byte, 1));
  EXPECT_EQ(byte, 0xff);
  write32(table, 2, 0x12345678);   // misaligned
  write32(table, 16, 0x12345678);  // past the table
  EXPECT_TRUE(sink.routes.empty());
  EXPECT_EQ(read32(table, 16), 0xffffffffu);
  uint64_t qword = 0xfee00000ull | (0x99ull << 32);
  table.table_write(8, std::span(reinterpret_cast<const uint8_t*>(&qword), 8));  // data + control at once
  EXPECT_EQ(read32(table, 8), 0xfee00000u);
  EXPECT_EQ(read32(table, 12), 1u) << "reserved control bits read as zero";
  uint32_t pba = 0;
  table.pba_read(8, std::span(reinterpret_cast<uint8_t*>(&pba), 4));
  EXPECT_EQ(pba, 0xffffffffu);
  MsixTable clamped(100000, sink);
  EXPECT_EQ(clamped.vector_count(), kMsixMaxVectors);
}

}  // namespace
}  // namespace vmhive::pci
