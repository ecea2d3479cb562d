// The MSI-X table: capability layout, programming entries (routes follow the
// message), masking per vector and per function with pending bits, and
// malformed accesses; and a snapshot's state put back into a fresh table.
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

// A guest rewriting masked entries over and over (or a driver programming
// one dword at a time) costs no route; the unmask routes the final message
// once, and an unchanged message is never routed again.
TEST(Msix, RewritesOfMaskedEntriesAreCoalescedUntilUnmask) {
  RecordingSink sink;
  MsixTable table(2, sink);
  table.set_message_control(kEnable);
  for (uint32_t round = 0; round < 1000; ++round) {
    write32(table, 0, 0xfee00000 + (round % 4) * 0x1000);
    write32(table, 8, 0x4000 + round);
  }
  EXPECT_TRUE(sink.routes.empty()) << "masked: nothing routed yet";
  write32(table, 12, 0);  // unmask
  ASSERT_EQ(sink.routes.size(), 1u);
  EXPECT_EQ(sink.routes[0].second, (MsiMessage{0xfee00000 + 3 * 0x1000, 0x4000 + 999}));
  write32(table, 8, 0x4000 + 999);  // the same message again
  write32(table, 12, 0);
  EXPECT_EQ(sink.routes.size(), 1u) << "an unchanged message is not routed again";
  write32(table, 8, 0x5000);  // a change while unmasked takes effect at once
  ASSERT_EQ(sink.routes.size(), 2u);
  EXPECT_EQ(sink.routes[1].second.data, 0x5000u);
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

void set_vector_mask(MsixTable& table, unsigned vector, bool masked) { write32(table, 16 * vector + 12, masked ? 1 : 0); }

// Three vectors as a driver leaves them: 0 and 1 programmed, 1 masked with an
// interrupt pending, 2 never touched.
void program_three_vectors(MsixTable& table) {
  table.set_message_control(kEnable);
  program(table, 0, 0x4041);
  write32(table, 16 * 1, 0xfee01000);
  write32(table, 16 * 1 + 4, 0x1);
  write32(table, 16 * 1 + 8, 0x4042);
  table.notify(1);
  ASSERT_EQ(pending_bits(table), 2u);
}

TEST(MsixSnapshot, RestoreRoutesTheSameMessagesAndKeepsMasks) {
  RecordingSink sink;
  MsixTable table(3, sink);
  program_three_vectors(table);
  const MsixTable::State state = table.state();
  EXPECT_TRUE(state.enabled);
  EXPECT_FALSE(state.function_masked);
  ASSERT_EQ(state.entries.size(), 3u);
  EXPECT_EQ(state.pending, std::vector<uint64_t>{2});

  RecordingSink restored_sink;
  MsixTable restored(3, restored_sink);
  auto result = restored.restore(state);
  ASSERT_TRUE(result.ok()) << result.error().message;
  // Every vector is routed again, to the message the driver programmed.
  ASSERT_EQ(restored_sink.routes.size(), 3u);
  EXPECT_EQ(restored_sink.routes[0], (std::pair<unsigned, MsiMessage>{0, {0xfee00000, 0x4041}}));
  EXPECT_EQ(restored_sink.routes[1], (std::pair<unsigned, MsiMessage>{1, {0x1fee01000, 0x4042}}));
  EXPECT_EQ(restored_sink.routes[2], (std::pair<unsigned, MsiMessage>{2, {0, 0}}));
  EXPECT_TRUE(restored_sink.signals.empty()) << "vector 1 is still masked";
  EXPECT_TRUE(restored.enabled());
  for (uint64_t offset = 0; offset < table.table_bytes(); offset += 4)
    EXPECT_EQ(read32(restored, offset), read32(table, offset)) << "table offset " << offset;
  EXPECT_EQ(pending_bits(restored), 2u);

  // The restored table behaves as the original would.
  restored.notify(0);
  EXPECT_EQ(restored_sink.signals, std::vector<unsigned>{0});
  set_vector_mask(restored, 1, false);
  EXPECT_EQ(restored_sink.signals, (std::vector<unsigned>{0, 1})) << "the pending interrupt goes out on unmask";
  EXPECT_EQ(pending_bits(restored), 0u);
}

TEST(MsixSnapshot, PendingVectorsUnmaskedInTheStateAreDeliveredOnRestore) {
  RecordingSink sink;
  MsixTable table(3, sink);
  table.set_message_control(kEnable | kFunctionMask);
  program(table, 0, 0x51);
  program(table, 2, 0x53);
  table.notify(0);
  table.notify(2);
  ASSERT_EQ(pending_bits(table), 5u);
  MsixTable::State state = table.state();

  // As saved (function still masked): nothing goes out until the driver unmasks.
  RecordingSink held_sink;
  MsixTable held(3, held_sink);
  ASSERT_TRUE(held.restore(state).ok());
  EXPECT_TRUE(held_sink.signals.empty());
  EXPECT_EQ(pending_bits(held), 5u);
  held.set_message_control(kEnable);
  EXPECT_EQ(held_sink.signals, (std::vector<unsigned>{0, 2}));

  // A state whose pending vectors are unmasked: delivered by the restore itself.
  state.function_masked = false;
  RecordingSink sink_now;
  MsixTable now(3, sink_now);
  ASSERT_TRUE(now.restore(state).ok());
  EXPECT_EQ(sink_now.signals, (std::vector<unsigned>{0, 2}));
  EXPECT_EQ(pending_bits(now), 0u);
}

TEST(MsixSnapshot, RestoreDropsPendingBitsPastTheTableAndReservedControlBits) {
  RecordingSink sink;
  MsixTable table(3, sink);
  MsixTable::State state = table.state();
  state.pending = {~0ull};
  state.entries[1][3] = 0xfffffffe;  // unmasked, reserved bits set
  ASSERT_TRUE(table.restore(state).ok());
  EXPECT_EQ(pending_bits(table), 7u) << "only vectors 0 to 2 exist";
  EXPECT_EQ(read32(table, 16 + 12), 0u);
  EXPECT_TRUE(sink.signals.empty()) << "MSI-X is disabled in the state";
}

TEST(MsixSnapshot, RefusesAStateOfAnotherVectorCount) {
  RecordingSink sink;
  MsixTable three(3, sink);
  program_three_vectors(three);
  const MsixTable::State state = three.state();

  RecordingSink other_sink;
  MsixTable two(2, other_sink);
  auto result = two.restore(state);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("MSI-X table of 3 vectors; this device has 2"), std::string::npos)
      << result.error().message;
  MsixTable many(65, other_sink);
  EXPECT_FALSE(many.restore(state).ok());
  EXPECT_TRUE(other_sink.routes.empty()) << "a refused restore routes nothing";
  EXPECT_FALSE(two.enabled());
  EXPECT_EQ(read32(two, 12), 1u) << "entries stay as they were (masked)";

  MsixTable::State short_pending = state;
  short_pending.pending.clear();
  MsixTable same(3, other_sink);
  EXPECT_FALSE(same.restore(short_pending).ok()) << "a pending array of the wrong length";
}

}  // namespace
}  // namespace vmhive::pci
