#include "arch/x86/syscall_semantics.h"

#include <vector>

#include <gtest/gtest.h>

namespace vmhive::x86 {
namespace {

// Linux's STAR: kernel CS 0x10 in [47:32], user CS32 0x23 in [63:48]
// (so SYSRET gives CS 0x33, SS 0x2b).
constexpr uint64_t kLinuxStar = (0x23ull << 48) | (0x10ull << 32);
constexpr uint64_t kLstar = 0xffffffff81c00080;
constexpr uint64_t kCstar = 0xffffffff81c01000;

kvm_sregs ring0_sregs() {
  kvm_sregs sregs{};
  sregs.cs = syscall_code_segment(kLinuxStar);
  sregs.ss = syscall_stack_segment(kLinuxStar);
  return sregs;
}

SysretResult sysret(std::vector<uint8_t> bytes, kvm_regs& regs, kvm_sregs& sregs) {
  return complete_sysret(bytes, kLinuxStar, regs, sregs);
}

TEST(SyscallSemantics, SegmentsComeFromStar) {
  const kvm_segment code = syscall_code_segment(kLinuxStar);
  EXPECT_EQ(code.selector, 0x10);
  EXPECT_EQ(code.dpl, 0);
  EXPECT_EQ(code.l, 1);
  EXPECT_EQ(code.db, 0);
  EXPECT_EQ(code.type, 0xb);
  EXPECT_EQ(code.present, 1);
  const kvm_segment stack = syscall_stack_segment(kLinuxStar);
  EXPECT_EQ(stack.selector, 0x18);
  EXPECT_EQ(stack.dpl, 0);
  EXPECT_EQ(stack.type, 0x3);
  EXPECT_EQ(sysret_code_segment(kLinuxStar, true).selector, 0x33);
  EXPECT_EQ(sysret_code_segment(kLinuxStar, true).dpl, 3);
  EXPECT_EQ(sysret_code_segment(kLinuxStar, true).l, 1);
  EXPECT_EQ(sysret_code_segment(kLinuxStar, false).selector, 0x23);
  EXPECT_EQ(sysret_code_segment(kLinuxStar, false).l, 0);
  EXPECT_EQ(sysret_code_segment(kLinuxStar, false).db, 1);
  EXPECT_EQ(sysret_stack_segment(kLinuxStar).selector, 0x2b);
  EXPECT_EQ(sysret_stack_segment(kLinuxStar).dpl, 3);
}

TEST(SyscallSemantics, KernelSelectorRplIsForcedToZero) {
  EXPECT_EQ(syscall_code_segment((0x23ull << 48) | (0x13ull << 32)).selector, 0x10);
  EXPECT_EQ(syscall_stack_segment((0x23ull << 48) | (0x13ull << 32)).selector, 0x18);
}

// What KVM-PVM leaves behind, as Linux's page-fault handler sees it.
ExceptionFrame stranded_frame() {
  return ExceptionFrame{/*error_code=*/0x15, /*rip=*/kLstar, /*cs=*/0x33, /*rflags=*/0x202 & ~0x200ull,
                        /*rsp=*/0x7ffc0000f000, /*ss=*/0x2b};
}

TEST(SyscallSemantics, RecognisesAStrandedSyscall) {
  EXPECT_TRUE(is_stranded_syscall(stranded_frame(), kLstar, kLstar, kCstar));
  ExceptionFrame compat = stranded_frame();
  compat.rip = kCstar;
  compat.cs = 0x23;
  EXPECT_TRUE(is_stranded_syscall(compat, kCstar, kLstar, kCstar));
}

TEST(SyscallSemantics, OrdinaryPageFaultsAreLeftAlone) {
  ExceptionFrame frame = stranded_frame();
  EXPECT_FALSE(is_stranded_syscall(frame, 0x1000, kLstar, kCstar));  // a data fault elsewhere
  frame.cs = 0x10;
  EXPECT_FALSE(is_stranded_syscall(frame, kLstar, kLstar, kCstar));  // from ring 0
  frame = stranded_frame();
  frame.error_code = 0x11;  // supervisor access
  EXPECT_FALSE(is_stranded_syscall(frame, kLstar, kLstar, kCstar));
  frame = stranded_frame();
  frame.rip = 0x401000;  // user code faulting on its own fetch
  EXPECT_FALSE(is_stranded_syscall(frame, 0x401000, kLstar, kCstar));
  EXPECT_FALSE(is_stranded_syscall(stranded_frame(), kLstar, 0, 0));  // SYSCALL never set up
}

TEST(SyscallSemantics, FinishingPutsTheCpuInRingZeroAtTheTarget) {
  kvm_regs regs{};
  regs.rip = 0xffffffff81e00b00;  // the page-fault handler
  regs.rsp = 0xffffc90000013f58;  // the kernel stack, frame on top
  regs.rcx = 0x401234;            // set by the host's half of SYSCALL
  regs.r11 = 0x246;
  kvm_sregs sregs{};
  sregs.cs = sysret_code_segment(kLinuxStar, true);
  finish_stranded_syscall(stranded_frame(), kLinuxStar, regs, sregs);
  EXPECT_EQ(regs.rip, kLstar);
  EXPECT_EQ(regs.rsp, 0x7ffc0000f000u);
  EXPECT_EQ(regs.rflags, 0x2u);
  EXPECT_EQ(regs.rcx, 0x401234u);
  EXPECT_EQ(regs.r11, 0x246u);
  EXPECT_EQ(sregs.cs.selector, 0x10);
  EXPECT_EQ(sregs.cs.dpl, 0);
  EXPECT_EQ(sregs.ss.selector, 0x18);
}

TEST(SyscallSemantics, FinishingClearsResumeFlag) {
  ExceptionFrame frame = stranded_frame();
  frame.rflags = 0x10046;
  kvm_regs regs{};
  kvm_sregs sregs{};
  finish_stranded_syscall(frame, kLinuxStar, regs, sregs);
  EXPECT_EQ(regs.rflags, 0x46u);
}

TEST(SyscallSemantics, SysretqReturnsToSixtyFourBitRingThree) {
  kvm_regs regs{};
  regs.rcx = 0x401234;
  regs.r11 = 0x10246 | 0x3000;  // RF is dropped; IOPL is kept (SDM mask 3C7FD7H)
  kvm_sregs sregs = ring0_sregs();
  EXPECT_EQ(sysret({0x48, 0x0f, 0x07}, regs, sregs), SysretResult::kCompleted);
  EXPECT_EQ(regs.rip, 0x401234u);
  EXPECT_EQ(regs.rflags, 0x3246u);
  EXPECT_EQ(sregs.cs.selector, 0x33);
  EXPECT_EQ(sregs.cs.l, 1);
  EXPECT_EQ(sregs.ss.selector, 0x2b);
}

TEST(SyscallSemantics, SysretlReturnsToCompatibilityMode) {
  kvm_regs regs{};
  regs.rcx = 0xdeadbeef00401234;
  regs.r11 = 0x202;
  kvm_sregs sregs = ring0_sregs();
  EXPECT_EQ(sysret({0x0f, 0x07, 0x90}, regs, sregs), SysretResult::kCompleted);  // a trailing byte is ignored
  EXPECT_EQ(regs.rip, 0x00401234u);
  EXPECT_EQ(sregs.cs.selector, 0x23);
  EXPECT_EQ(sregs.cs.l, 0);
}

TEST(SyscallSemantics, SysretToANonCanonicalAddressIsAGeneralProtectionFault) {
  kvm_regs regs{};
  regs.rcx = 0x0000800000000000;
  kvm_sregs sregs = ring0_sregs();
  EXPECT_EQ(sysret({0x48, 0x0f, 0x07}, regs, sregs), SysretResult::kGeneralProtection);
  EXPECT_EQ(regs.rip, 0u);  // nothing changed
  EXPECT_EQ(sregs.cs.selector, 0x10);
}

TEST(SyscallSemantics, SysretOutsideRingZeroIsAGeneralProtectionFault) {
  kvm_regs regs{};
  regs.rcx = 0x401000;
  kvm_sregs sregs = ring0_sregs();
  sregs.cs = sysret_code_segment(kLinuxStar, true);
  EXPECT_EQ(sysret({0x48, 0x0f, 0x07}, regs, sregs), SysretResult::kGeneralProtection);
}

TEST(SyscallSemantics, OtherBytesAreNotSysret) {
  kvm_regs regs{};
  kvm_sregs sregs = ring0_sregs();
  EXPECT_EQ(sysret({}, regs, sregs), SysretResult::kNotSysret);
  EXPECT_EQ(sysret({0x0f}, regs, sregs), SysretResult::kNotSysret);        // truncated
  EXPECT_EQ(sysret({0x48, 0x0f}, regs, sregs), SysretResult::kNotSysret);  // truncated after REX
  EXPECT_EQ(sysret({0x0f, 0x05}, regs, sregs), SysretResult::kNotSysret);  // SYSCALL
  EXPECT_EQ(sysret({0x66, 0x0f, 0x07}, regs, sregs), SysretResult::kNotSysret);  // other prefixes
  EXPECT_EQ(sysret({0x48, 0x48, 0x0f, 0x07}, regs, sregs), SysretResult::kNotSysret);
  EXPECT_EQ(regs.rip, 0u);
}

TEST(SyscallSemantics, DecodeSysretSaysWhichMode) {
  EXPECT_EQ(decode_sysret(std::vector<uint8_t>{0x48, 0x0f, 0x07}), std::optional<bool>(true));
  EXPECT_EQ(decode_sysret(std::vector<uint8_t>{0x0f, 0x07, 0x90}), std::optional<bool>(false));
  EXPECT_EQ(decode_sysret(std::vector<uint8_t>{0x40, 0x0f, 0x07}), std::optional<bool>(false));  // REX without W
  EXPECT_FALSE(decode_sysret(std::vector<uint8_t>{0x66, 0x0f, 0x07}));
  EXPECT_FALSE(decode_sysret(std::vector<uint8_t>{0x48, 0x0f}));
  EXPECT_FALSE(decode_sysret(std::vector<uint8_t>{0x0f, 0x05}));
}

}  // namespace
}  // namespace vmhive::x86
