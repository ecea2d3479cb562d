// The split virtqueue against crafted rings: well-formed chains (direct,
// indirect, across the 16-bit index wrap), each malformed case a hostile
// driver can write, and notification suppression with and without EVENT_IDX.
#include "devices/virtio/virtqueue.h"

#include <gtest/gtest.h>

#include <cstring>

#include "virtqueue_driver.h"

namespace vmhive::virtio {
namespace {

using testing::TestDriver;
using testing::kDescNext;
using testing::kDescWrite;
using testing::kDescIndirect;

constexpr uint64_t kAllFeatures = kFeatureIndirectDesc | kFeatureEventIdx;

class VirtqueueTest : public ::testing::Test {
 protected:
  VirtqueueTest() : memory_(*GuestMemory::create({{0, 4ull << 20}})), driver_(memory_, 8) {}

  Virtqueue queue(uint64_t features = kAllFeatures) {
    auto created = Virtqueue::create(memory_, driver_.state(), features);
    EXPECT_TRUE(created.ok()) << created.error().message;
    return std::move(created).value();
  }

  // Pops one chain expecting an error that mentions `words`.
  void expect_rejected(const std::string& words, uint64_t features = kAllFeatures) {
    Virtqueue vq = queue(features);
    DescriptorChain chain;
    auto popped = vq.pop_chain(chain);
    ASSERT_FALSE(popped.ok()) << "a malformed chain was accepted";
    EXPECT_NE(popped.error().message.find(words), std::string::npos) << popped.error().message;
  }

  GuestMemory memory_;
  TestDriver driver_;
};

TEST_F(VirtqueueTest, RejectsBadLayouts) {
  VirtqueueState state = driver_.state();
  for (uint16_t size : {0, 3, 12, 33000}) {
    state.size = size;
    EXPECT_FALSE(Virtqueue::create(memory_, state, 0).ok()) << size;
  }
  state = driver_.state();
  state.descriptor_table += 8;
  EXPECT_FALSE(Virtqueue::create(memory_, state, 0).ok());
  state = driver_.state();
  state.available_ring += 1;
  EXPECT_FALSE(Virtqueue::create(memory_, state, 0).ok());
  state = driver_.state();
  state.used_ring += 2;
  EXPECT_FALSE(Virtqueue::create(memory_, state, 0).ok());
  state = driver_.state();
  state.used_ring = (4ull << 20) - 16;  // runs off the end of RAM
  auto outside = Virtqueue::create(memory_, state, 0);
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.error().message.find("not inside guest RAM"), std::string::npos);
  state = driver_.state();
  state.descriptor_table = 1ull << 40;
  EXPECT_FALSE(Virtqueue::create(memory_, state, 0).ok());
}

// Found by fuzz_virtqueue: a used ring laid over the available ring let the
// device's own used-ring writes raise the available index, so the device
// popped chains without end. Such layouts are refused when the queue is made.
TEST_F(VirtqueueTest, RefusesAUsedRingOverTheOtherRings) {
  VirtqueueState state = driver_.state();
  state.used_ring = state.available_ring + 4;
  auto over_available = Virtqueue::create(memory_, state, 0);
  ASSERT_FALSE(over_available.ok());
  EXPECT_NE(over_available.error().message.find("overlaps"), std::string::npos) << over_available.error().message;
  state = driver_.state();
  state.used_ring = state.descriptor_table + 16;
  EXPECT_FALSE(Virtqueue::create(memory_, state, 0).ok());
  state = driver_.state();
  state.available_ring = state.used_ring;  // the avail ring over the used ring is the same overlap
  EXPECT_FALSE(Virtqueue::create(memory_, state, 0).ok());
  EXPECT_TRUE(Virtqueue::create(memory_, driver_.state(), 0).ok());
}

TEST_F(VirtqueueTest, EmptyQueueHasNothingToPop) {
  Virtqueue vq = queue();
  DescriptorChain chain;
  auto popped = vq.pop_chain(chain);
  ASSERT_TRUE(popped.ok());
  EXPECT_FALSE(*popped);
  EXPECT_FALSE(vq.has_available());
}

TEST_F(VirtqueueTest, PopsAChainAndReturnsItUsed) {
  const uint64_t request = 0x100000, response = 0x200000;
  memory_.fill(request, 0xab, 64).ok();
  driver_.set_descriptor(0, request, 64, kDescNext, 1);
  driver_.set_descriptor(1, response, 512, kDescWrite, 0);
  driver_.publish(0);
  Virtqueue vq = queue();
  EXPECT_TRUE(vq.has_available());
  DescriptorChain chain;
  auto popped = vq.pop_chain(chain);
  ASSERT_TRUE(popped.ok()) << popped.error().message;
  ASSERT_TRUE(*popped);
  EXPECT_EQ(chain.head, 0);
  ASSERT_EQ(chain.readable().size(), 1u);
  ASSERT_EQ(chain.writable().size(), 1u);
  EXPECT_EQ(chain.readable_bytes, 64u);
  EXPECT_EQ(chain.writable_bytes, 512u);
  EXPECT_EQ(chain.readable()[0].data[10], 0xab);
  chain.writable()[0].data[0] = 0x5a;
  EXPECT_EQ(*memory_.read_obj<uint8_t>(response), 0x5a);

  vq.add_used(chain.head, 1);
  EXPECT_EQ(driver_.used_index(), 1);
  EXPECT_EQ(driver_.used_element(0).first, 0u);
  EXPECT_EQ(driver_.used_element(0).second, 1u);
  EXPECT_EQ(vq.state().next_available, 1);
  EXPECT_FALSE(*vq.pop_chain(chain));
}

TEST_F(VirtqueueTest, FollowsIndirectTables) {
  const uint64_t table = 0x300000;
  driver_.set_indirect(table, 0, 0x100000, 16, kDescNext, 1);
  driver_.set_indirect(table, 1, 0x101000, 4096, kDescWrite | kDescNext, 2);
  driver_.set_indirect(table, 2, 0x102000, 1, kDescWrite, 0);
  driver_.set_descriptor(3, table, 3 * 16, kDescIndirect, 0);
  driver_.publish(3);
  Virtqueue vq = queue();
  DescriptorChain chain;
  auto popped = vq.pop_chain(chain);
  ASSERT_TRUE(popped.ok()) << popped.error().message;
  EXPECT_EQ(chain.head, 3);
  EXPECT_EQ(chain.readable().size(), 1u);
  EXPECT_EQ(chain.writable().size(), 2u);
  EXPECT_EQ(chain.writable_bytes, 4097u);

  driver_.publish(3);
  expect_rejected("VIRTIO_F_INDIRECT_DESC", kFeatureEventIdx);
}

TEST_F(VirtqueueTest, WorksAcrossTheIndexWrap) {
  driver_.set_descriptor(0, 0x100000, 8, 0, 0);
  VirtqueueState state = driver_.state();
  state.next_available = 0xffff;
  state.next_used = 0xffff;
  state.used_at_last_interrupt = 0xffff;
  driver_.set_available_index(0xffff);
  driver_.set_used_index(0xffff);
  driver_.publish(0);
  driver_.publish(0);
  auto created = Virtqueue::create(memory_, state, kAllFeatures);
  ASSERT_TRUE(created.ok());
  DescriptorChain chain;
  for (int i = 0; i < 2; ++i) {
    auto popped = created->pop_chain(chain);
    ASSERT_TRUE(popped.ok() && *popped) << i;
    created->add_used(chain.head, 0);
  }
  EXPECT_FALSE(*created->pop_chain(chain));
  EXPECT_EQ(driver_.used_index(), 1);
}

// The hostile cases of virtio 1.2 §2.7.5: each must fail the request cleanly.
TEST_F(VirtqueueTest, RejectsADescriptorLoop) {
  driver_.set_descriptor(0, 0x100000, 8, kDescNext, 1);
  driver_.set_descriptor(1, 0x100000, 8, kDescNext, 0);
  driver_.publish(0);
  expect_rejected("loops");
}

TEST_F(VirtqueueTest, RejectsASelfLoop) {
  driver_.set_descriptor(5, 0x100000, 8, kDescNext, 5);
  driver_.publish(5);
  expect_rejected("loops");
}

TEST_F(VirtqueueTest, RejectsANextIndexOutsideTheTable) {
  driver_.set_descriptor(0, 0x100000, 8, kDescNext, 8);
  driver_.publish(0);
  expect_rejected("names entry 8");
}

TEST_F(VirtqueueTest, RejectsAHeadOutsideTheTable) {
  driver_.publish(9);
  expect_rejected("names descriptor 9");
}

TEST_F(VirtqueueTest, RejectsAnAvailableIndexTooFarAhead) {
  driver_.set_available_index(9);  // 9 new entries in a queue of 8
  expect_rejected("more than the queue size");
}

TEST_F(VirtqueueTest, RejectsZeroLengthBuffers) {
  driver_.set_descriptor(0, 0x100000, 0, 0, 0);
  driver_.publish(0);
  expect_rejected("zero-length");
}

TEST_F(VirtqueueTest, RejectsBuffersOutsideRam) {
  driver_.set_descriptor(0, (4ull << 20) - 4, 8, 0, 0);  // straddles the end of RAM
  driver_.publish(0);
  expect_rejected("not inside guest RAM");
}

TEST_F(VirtqueueTest, RejectsHugeLengths) {
  driver_.set_descriptor(0, 0x100000, 0xffffffff, kDescWrite, 0);
  driver_.publish(0);
  expect_rejected("not inside guest RAM");
}

TEST_F(VirtqueueTest, RejectsAddressesThatWrapTheSpace) {
  driver_.set_descriptor(0, ~0ull - 16, 64, 0, 0);
  driver_.publish(0);
  expect_rejected("not inside guest RAM");
}

TEST_F(VirtqueueTest, RejectsReadableAfterWritable) {
  driver_.set_descriptor(0, 0x100000, 8, kDescWrite | kDescNext, 1);
  driver_.set_descriptor(1, 0x101000, 8, 0, 0);
  driver_.publish(0);
  expect_rejected("device-readable buffer after a device-writable");
}

TEST_F(VirtqueueTest, RejectsChainsLongerThanFourGigabytes) {
  // 4100 indirect entries all naming the same 1 MiB: more than 4 GiB in all.
  const uint64_t table = 0x200000;
  const uint32_t entries = 4100;
  for (uint32_t i = 0; i < entries; ++i) {
    driver_.set_indirect(table, i, 0x100000, 1 << 20, kDescWrite | (i + 1 < entries ? kDescNext : 0),
                         static_cast<uint16_t>(i + 1));
  }
  driver_.set_descriptor(0, table, entries * 16, kDescIndirect, 0);
  driver_.publish(0);
  expect_rejected("longer than 4 GiB");
}

TEST_F(VirtqueueTest, RejectsMalformedIndirectTables) {
  const uint64_t table = 0x300000;
  driver_.set_indirect(table, 0, 0x100000, 8, 0, 0);

  driver_.set_descriptor(0, table, 16, kDescIndirect | kDescNext, 1);
  driver_.publish(0);
  expect_rejected("NEXT");

  driver_.set_descriptor(0, table, 24, kDescIndirect, 0);
  expect_rejected("multiple of 16");
  driver_.set_descriptor(0, table, 0, kDescIndirect, 0);
  expect_rejected("multiple of 16");

  driver_.set_descriptor(0, (4ull << 20) - 16, 32, kDescIndirect, 0);
  expect_rejected("indirect table");

  driver_.set_indirect(table, 0, table, 16, kDescIndirect, 0);
  driver_.set_descriptor(0, table, 16, kDescIndirect, 0);
  expect_rejected("inside an indirect table");

  driver_.set_indirect(table, 0, 0x100000, 8, kDescNext, 1);
  driver_.set_indirect(table, 1, 0x100000, 8, kDescNext, 0);
  driver_.set_descriptor(0, table, 32, kDescIndirect, 0);
  expect_rejected("loops");

  driver_.set_indirect(table, 1, 0x100000, 8, kDescNext, 2);
  expect_rejected("names entry 2");
}

TEST_F(VirtqueueTest, InterruptsFollowTheNoInterruptFlag) {
  driver_.set_descriptor(0, 0x100000, 8, 0, 0);
  driver_.publish(0);
  Virtqueue vq = queue(0);
  DescriptorChain chain;
  ASSERT_TRUE(*vq.pop_chain(chain));
  EXPECT_FALSE(vq.should_interrupt()) << "nothing used yet";
  vq.add_used(chain.head, 0);
  EXPECT_TRUE(vq.should_interrupt());
  EXPECT_FALSE(vq.should_interrupt()) << "nothing new since the last interrupt";

  driver_.set_available_flags(1);
  driver_.publish(0);
  ASSERT_TRUE(*vq.pop_chain(chain));
  vq.add_used(chain.head, 0);
  EXPECT_FALSE(vq.should_interrupt());
}

TEST_F(VirtqueueTest, InterruptsFollowUsedEvent) {
  driver_.set_descriptor(0, 0x100000, 8, 0, 0);
  Virtqueue vq = queue();
  DescriptorChain chain;
  // The driver asks to hear when entry 2 (the third) is used.
  driver_.set_used_event(2);
  for (int i = 0; i < 4; ++i) driver_.publish(0);
  bool interrupts[4];
  for (bool& interrupt : interrupts) {
    ASSERT_TRUE(*vq.pop_chain(chain));
    vq.add_used(chain.head, 0);
    interrupt = vq.should_interrupt();
  }
  EXPECT_FALSE(interrupts[0]);
  EXPECT_FALSE(interrupts[1]);
  EXPECT_TRUE(interrupts[2]);
  EXPECT_FALSE(interrupts[3]);
}

TEST_F(VirtqueueTest, NotificationSuppression) {
  Virtqueue plain = queue(0);
  plain.set_notifications(false);
  EXPECT_EQ(driver_.used_flags(), 1);
  plain.set_notifications(true);
  EXPECT_EQ(driver_.used_flags(), 0);

  driver_.set_descriptor(0, 0x100000, 8, 0, 0);
  driver_.publish(0);
  Virtqueue with_event_idx = queue();
  DescriptorChain chain;
  ASSERT_TRUE(*with_event_idx.pop_chain(chain));
  with_event_idx.set_notifications(true);
  EXPECT_EQ(driver_.available_event(), 1) << "notify when entry 1 is made available";
}

}  // namespace
}  // namespace vmhive::virtio
