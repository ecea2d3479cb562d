#include "arch/x86/instruction_completion.h"

#include <vector>

#include <gtest/gtest.h>

namespace vmhive::x86 {
namespace {

constexpr uint64_t kZeroFlag = 1u << 6;

struct Run {
  std::optional<CompletedInstruction> completed;
  kvm_regs regs;
};

Run complete(std::vector<uint8_t> bytes, kvm_regs regs, bool long_mode = true) {
  auto completed = complete_register_instruction(bytes, regs, long_mode);
  return {completed, regs};
}

kvm_regs base_regs() {
  kvm_regs regs{};
  regs.rip = 0x1000;
  regs.rflags = 0x2 | 0x1 | 0x800;  // CF and OF set: POPCNT clears them
  return regs;
}

TEST(InstructionCompletion, Popcnt64RegisterToRegister) {
  auto regs = base_regs();
  regs.rdi = 0xf0f0'0000'0000'0003;
  regs.rax = 0xdead;
  auto run = complete({0xf3, 0x48, 0x0f, 0xb8, 0xc7, 0x41, 0x01}, regs);  // popcnt %rdi,%rax; then other bytes
  ASSERT_TRUE(run.completed);
  EXPECT_EQ(run.completed->length, 5u);
  EXPECT_EQ(run.regs.rax, 10u);
  EXPECT_EQ(run.regs.rip, 0x1005u);
  EXPECT_EQ(run.regs.rflags, 0x2u);  // CF, OF cleared, ZF clear (source non-zero)
  EXPECT_EQ(run.regs.rdi, regs.rdi);
}

TEST(InstructionCompletion, Popcnt32ZeroesTheUpperHalfAndSetsZf) {
  auto regs = base_regs();
  regs.rcx = 0xffff'ffff'0000'0000;  // the low 32 bits are zero
  regs.rdx = 0x1234'5678'9abc'def0;
  auto run = complete({0xf3, 0x0f, 0xb8, 0xd1}, regs);  // popcnt %ecx,%edx
  ASSERT_TRUE(run.completed);
  EXPECT_EQ(run.regs.rdx, 0u);
  EXPECT_EQ(run.regs.rflags & kZeroFlag, kZeroFlag);
  EXPECT_EQ(run.regs.rip, 0x1004u);
}

TEST(InstructionCompletion, Popcnt16KeepsTheOtherBits) {
  auto regs = base_regs();
  regs.rbx = 0xffff'0000'0000'00ff;
  regs.rax = 0xaaaa'aaaa'aaaa'aaaa;
  auto run = complete({0x66, 0xf3, 0x0f, 0xb8, 0xc3}, regs);  // popcnt %bx,%ax
  ASSERT_TRUE(run.completed);
  EXPECT_EQ(run.regs.rax, 0xaaaa'aaaa'aaaa'0008u);
}

TEST(InstructionCompletion, RexExtendsBothRegisters) {
  auto regs = base_regs();
  regs.r9 = 0xff;
  auto run = complete({0xf3, 0x4d, 0x0f, 0xb8, 0xe1}, regs);  // popcnt %r9,%r12
  ASSERT_TRUE(run.completed);
  EXPECT_EQ(run.regs.r12, 8u);
}

TEST(InstructionCompletion, ClacAndStacFlipAlignmentCheck) {
  auto regs = base_regs();
  auto stac = complete({0x0f, 0x01, 0xcb, 0x90}, regs);
  ASSERT_TRUE(stac.completed);
  EXPECT_EQ(stac.regs.rflags & (1u << 18), 1u << 18);
  EXPECT_EQ(stac.regs.rip, 0x1003u);
  auto clac = complete({0x0f, 0x01, 0xca}, stac.regs);
  ASSERT_TRUE(clac.completed);
  EXPECT_EQ(clac.regs.rflags & (1u << 18), 0u);
  EXPECT_EQ(clac.regs.rflags, regs.rflags);
  EXPECT_FALSE(complete({0x0f, 0x01, 0xcc}, regs).completed);
  kvm_regs user = regs;
  EXPECT_FALSE(complete_register_instruction(std::vector<uint8_t>{0x0f, 0x01, 0xca}, user, true, 3));
  EXPECT_FALSE(complete({0x0f, 0x01}, regs).completed);
}

TEST(InstructionCompletion, RefusesWhatItDoesNotKnow) {
  auto regs = base_regs();
  for (const auto& bytes : std::vector<std::vector<uint8_t>>{
           {},
           {0xf3},
           {0xf3, 0x48, 0x0f, 0xb8},         // truncated: no ModRM
           {0xf3, 0x48, 0x0f, 0xb8, 0x07},   // memory operand
           {0x48, 0x0f, 0xb8, 0xc7},         // no F3: not POPCNT (JMPE)
           {0xf3, 0x48, 0x0f, 0xbc, 0xc7},   // TZCNT: not handled
           {0x48, 0x0f, 0xae, 0x2f},         // xrstor
           {0xcc},
       }) {
    auto run = complete(bytes, regs);
    EXPECT_FALSE(run.completed) << bytes.size();
    EXPECT_EQ(run.regs.rip, regs.rip);
    EXPECT_EQ(run.regs.rax, regs.rax);
  }
  // In 32-bit code 0x48 is DEC, not REX: F3 48 is then not followed by 0F.
  EXPECT_FALSE(complete({0xf3, 0x48, 0x0f, 0xb8, 0xc7}, regs, false).completed);
}

}  // namespace
}  // namespace vmhive::x86
