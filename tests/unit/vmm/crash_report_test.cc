// What a crash report says about an emulation failure: the bytes KVM gave,
// and the instruction's name where vmhive knows it.
#include "vmm/crash_report.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace vmhive {
namespace {

kvm_run emulation_failure(const std::vector<uint8_t>& bytes) {
  kvm_run run{};
  run.exit_reason = KVM_EXIT_INTERNAL_ERROR;
  run.emulation_failure.suberror = KVM_INTERNAL_ERROR_EMULATION;
  run.emulation_failure.flags = KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
  run.emulation_failure.insn_size = static_cast<uint8_t>(bytes.size());
  std::memcpy(run.emulation_failure.insn_bytes, bytes.data(), bytes.size());
  return run;
}

TEST(CrashReport, NamesAnX87InstructionAfterItsBytes) {
  // fldz, then what KVM fetched after it.
  const std::string text = describe_internal_error(emulation_failure({0xd9, 0xee, 0xc3, 0x90}), true);
  EXPECT_EQ(text, "KVM internal error 1 (instruction emulation failed); instruction bytes: d9 ee c3 90 (fldz)");
}

TEST(CrashReport, UnknownBytesAreShownWithoutAName) {
  const std::string text = describe_internal_error(emulation_failure({0x90, 0x90}), true);
  EXPECT_EQ(text, "KVM internal error 1 (instruction emulation failed); instruction bytes: 90 90");
}

TEST(CrashReport, TheModeDecidesWhatARexPrefixIs) {
  const auto run = emulation_failure({0x48, 0x0f, 0xae, 0x2f});
  EXPECT_NE(describe_internal_error(run, true).find("48 0f ae 2f (xrstor64)"), std::string::npos);
  // In 32-bit code 48 is DEC EAX: not named.
  EXPECT_EQ(describe_internal_error(run, false),
            "KVM internal error 1 (instruction emulation failed); instruction bytes: 48 0f ae 2f");
  // Not told: named as 64-bit code, and says so because 32-bit code would differ.
  EXPECT_NE(describe_internal_error(run).find("48 0f ae 2f (xrstor64, if 64-bit code)"), std::string::npos);
  // Where both readings agree, no hedge.
  EXPECT_NE(describe_internal_error(emulation_failure({0xcc})).find("instruction bytes: cc (int3)"),
            std::string::npos);
}

TEST(CrashReport, OtherInternalErrorsListTheirData) {
  kvm_run run{};
  run.internal.suberror = KVM_INTERNAL_ERROR_DELIVERY_EV;
  run.internal.ndata = 2;
  run.internal.data[0] = 0x80000b0e;
  run.internal.data[1] = 0x31;
  EXPECT_EQ(describe_internal_error(run), "KVM internal error 3 (exception during event delivery); data: 0x80000b0e 0x31");
}

TEST(CrashReport, RegistersInFixedWidthHex) {
  kvm_regs regs{};
  regs.rip = 0xffffffff81000000;
  regs.rsp = 0x8ff0;
  regs.rflags = 0x2;
  kvm_sregs sregs{};
  sregs.cs.selector = 0x10;
  sregs.cs.l = 1;
  sregs.cr0 = 0x80000011;
  sregs.efer = 0x500;
  const std::string text = describe_registers(regs, sregs);
  EXPECT_EQ(text.substr(0, text.find('\n')), "  rip ffffffff81000000  rsp 0000000000008ff0  rflags 0000000000000002");
  EXPECT_NE(text.find("  r8  0000000000000000  r9  0000000000000000"), std::string::npos) << text;
  EXPECT_NE(text.find("  cs 0010 (base 0, l=1 db=0 dpl=0)  ss 0000  ds 0000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  cr0 80000011  cr2 0  cr3 0  cr4 0  efer 500\n"), std::string::npos) << text;
  EXPECT_EQ(describe_registers(regs, std::nullopt).find("cr0"), std::string::npos);
}

}  // namespace
}  // namespace vmhive
