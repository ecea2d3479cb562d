#include "arch/x86/memory_operand.h"

#include <vector>

#include <gtest/gtest.h>

namespace vmhive::x86 {
namespace {

struct Fixture {
  kvm_regs regs{};
  kvm_sregs sregs{};
  Fixture() {
    sregs.cs.l = 1;
    regs.rip = 0xffffffff81000000;
    regs.rsp = 0xffffc90000001000;
    regs.rax = 0x100;
    regs.rbx = 0x2000;
    regs.r12 = 0x30000;
    sregs.gs.base = 0xffff888000000000;
  }
  std::optional<MemoryInstruction> decode(std::vector<uint8_t> bytes) {
    return decode_0f_memory_instruction(bytes, regs, sregs);
  }
};

TEST(MemoryOperand, StackRelativeWithSib) {
  Fixture f;
  auto ins = f.decode({0x0f, 0xae, 0x54, 0x24, 0x04, 0x83});  // ldmxcsr 0x4(%rsp)
  ASSERT_TRUE(ins);
  EXPECT_EQ(ins->opcode, 0xae);
  EXPECT_EQ(ins->reg, 2);
  EXPECT_EQ(ins->linear_address, f.regs.rsp + 4);
  EXPECT_EQ(ins->length, 5u);
}

TEST(MemoryOperand, BaseIndexScaleAndRex) {
  Fixture f;
  // stmxcsr 0x10(%r12,%rax,8): REX.B, SIB scale 3 index rax base r12, disp8.
  auto ins = f.decode({0x41, 0x0f, 0xae, 0x5c, 0xc4, 0x10});
  ASSERT_TRUE(ins);
  EXPECT_EQ(ins->reg, 3);
  EXPECT_EQ(ins->linear_address, 0x30000u + 0x100u * 8 + 0x10);
  EXPECT_EQ(ins->length, 6u);
}

TEST(MemoryOperand, RipRelativeAndSegmentOverride) {
  Fixture f;
  auto ins = f.decode({0x0f, 0xae, 0x15, 0x10, 0x00, 0x00, 0x00});  // ldmxcsr 0x10(%rip)
  ASSERT_TRUE(ins);
  EXPECT_EQ(ins->linear_address, f.regs.rip + 7 + 0x10);
  auto gs = f.decode({0x65, 0x0f, 0xae, 0x13});  // ldmxcsr %gs:(%rbx)
  ASSERT_TRUE(gs);
  EXPECT_EQ(gs->linear_address, f.sregs.gs.base + 0x2000);
  EXPECT_EQ(gs->length, 4u);
}

TEST(MemoryOperand, NegativeDisplacementAndNoBase) {
  Fixture f;
  auto ins = f.decode({0x0f, 0xae, 0x93, 0xf0, 0xff, 0xff, 0xff});  // -0x10(%rbx), disp32
  ASSERT_TRUE(ins);
  EXPECT_EQ(ins->linear_address, 0x2000u - 0x10);
  auto absolute = f.decode({0x0f, 0xae, 0x14, 0x25, 0x00, 0x10, 0x00, 0x00});  // 0x1000 via SIB, no base or index
  ASSERT_TRUE(absolute);
  EXPECT_EQ(absolute->linear_address, 0x1000u);
}

TEST(MemoryOperand, RefusesRegisterFormsPrefixesAndTruncation) {
  Fixture f;
  EXPECT_FALSE(f.decode({0x0f, 0xae, 0xd0}));                    // mod 11
  EXPECT_FALSE(f.decode({0x66, 0x0f, 0xae, 0x10}));              // 66 prefix
  EXPECT_FALSE(f.decode({0xf3, 0x0f, 0xae, 0x10}));              // F3 prefix
  EXPECT_FALSE(f.decode({0x0f, 0xae, 0x54}));                    // SIB missing
  EXPECT_FALSE(f.decode({0x0f, 0xae, 0x94, 0x24, 0x00, 0x01}));  // disp32 cut short
  EXPECT_FALSE(f.decode({}));
  Fixture legacy;
  legacy.sregs.cs.l = 0;
  EXPECT_FALSE(legacy.decode({0x0f, 0xae, 0x10}));  // not 64-bit code
}

TEST(ModrmOperand, LengthsIn32And64BitAddressing) {
  struct Case {
    std::vector<uint8_t> bytes;
    size_t length;
    size_t displacement;
  };
  const Case cases[] = {
      {{0xc0}, 1, 0},                          // mod 11: a register
      {{0x10}, 1, 0},                          // (%rax)
      {{0x15, 1, 2, 3, 4}, 5, 4},              // mod 00 rm 101: RIP-relative / absolute disp32
      {{0x54, 0x24, 0x04}, 3, 1},              // SIB, disp8
      {{0x14, 0x25, 0, 0x10, 0, 0}, 6, 4},     // SIB with no base: disp32
      {{0x55, 0x08}, 2, 1},                    // disp8(%rbp)
      {{0x94, 0x24, 0, 1, 0, 0}, 6, 4},        // SIB, disp32
  };
  for (const auto& each : cases) {
    for (auto size : {AddressSize::k32, AddressSize::k64}) {
      auto operand = decode_modrm(each.bytes, size);
      ASSERT_TRUE(operand) << int{each.bytes[0]};
      EXPECT_EQ(operand->length, each.length) << int{each.bytes[0]};
      EXPECT_EQ(operand->displacement_size, each.displacement) << int{each.bytes[0]};
      // One byte fewer is not enough.
      EXPECT_FALSE(decode_modrm(std::span(each.bytes).first(each.bytes.size() - 1), size)) << int{each.bytes[0]};
    }
  }
  auto fields = decode_modrm(std::vector<uint8_t>{0x5c, 0xc4, 0x10}, AddressSize::k64);
  ASSERT_TRUE(fields);
  EXPECT_EQ(fields->mod, 1);
  EXPECT_EQ(fields->reg, 3);
  EXPECT_EQ(fields->rm, 4);
  EXPECT_EQ(fields->sib, 0xc4);
}

TEST(ModrmOperand, SixteenBitAddressingHasNoSib) {
  auto bare = decode_modrm(std::vector<uint8_t>{0x16, 0x34, 0x12}, AddressSize::k16);  // [0x1234]
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->length, 3u);
  auto bx_si = decode_modrm(std::vector<uint8_t>{0x04}, AddressSize::k16);  // [si], rm 100 is no SIB here
  ASSERT_TRUE(bx_si);
  EXPECT_EQ(bx_si->length, 1u);
  EXPECT_FALSE(bx_si->sib);
  auto disp16 = decode_modrm(std::vector<uint8_t>{0x87, 0x00, 0x10}, AddressSize::k16);  // [bx+0x1000]
  ASSERT_TRUE(disp16);
  EXPECT_EQ(disp16->length, 3u);
  EXPECT_FALSE(decode_modrm(std::vector<uint8_t>{0x87, 0x00}, AddressSize::k16));
  EXPECT_FALSE(decode_modrm(std::vector<uint8_t>{}, AddressSize::k16));
}

}  // namespace
}  // namespace vmhive::x86
