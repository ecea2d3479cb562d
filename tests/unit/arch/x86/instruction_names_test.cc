// Naming instructions for crash reports: the walls docs/pvm.md lists, the
// x87 escapes, and everything strictness refuses.
#include "arch/x86/instruction_names.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vmhive::x86 {
namespace {

struct Case {
  std::vector<uint8_t> bytes;
  const char* name;  // nullptr: not named
  size_t length = 0;
};

std::string hex_bytes(const std::vector<uint8_t>& bytes) {
  std::string text;
  for (uint8_t byte : bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    text += kDigits[byte >> 4];
    text += kDigits[byte & 15];
    text += ' ';
  }
  return text;
}

void check(const std::vector<Case>& cases, bool long_mode) {
  for (const auto& each : cases) {
    const auto named = identify_instruction(each.bytes, long_mode);
    if (each.name == nullptr) {
      EXPECT_FALSE(named) << hex_bytes(each.bytes) << "named " << named->name;
      continue;
    }
    ASSERT_TRUE(named) << hex_bytes(each.bytes) << "should be " << each.name;
    EXPECT_EQ(named->name, each.name) << hex_bytes(each.bytes);
    if (each.length != 0) {
      EXPECT_EQ(named->length, each.length) << hex_bytes(each.bytes);
    }
    EXPECT_EQ(name_instruction(each.bytes, long_mode), std::optional<std::string_view>(each.name));
  }
}

TEST(InstructionNames, TheWallsOfDocsPvm) {
  check({
            {{0x48, 0x0f, 0xae, 0x2f}, "xrstor64", 4},              // xrstor64 (%rdi), wall 1
            {{0xcc}, "int3", 1},                                    // wall 2
            {{0xf3, 0x48, 0x0f, 0xb8, 0xc7}, "popcnt", 5},          // popcnt %rdi,%rax, wall 3
            {{0x0f, 0x01, 0xca}, "clac", 3},                        // wall 4
            {{0x0f, 0x01, 0xcb}, "stac", 3},
            {{0x9b}, "fwait", 1},                                   // wall 5
            {{0x0f, 0xae, 0x54, 0x24, 0x04}, "ldmxcsr", 5},          // ldmxcsr 0x4(%rsp), wall 6
            {{0x0f, 0xae, 0x5c, 0x24, 0x04}, "stmxcsr", 5},
            {{0x48, 0x0f, 0x07}, "sysretq", 3},                     // wall 9
            {{0x0f, 0x07}, "sysret", 2},
            {{0x0f, 0x01, 0xf8}, "swapgs", 3},
            {{0x48, 0x0f, 0xc7, 0x0f}, "cmpxchg16b", 4},            // wall 10
            {{0xf0, 0x48, 0x0f, 0xc7, 0x0f}, "cmpxchg16b", 5},      // LOCK belongs to it
            {{0x0f, 0xc7, 0x0f}, "cmpxchg8b", 3},
            {{0x0f, 0x01, 0xd0}, "xgetbv", 3},                      // wall 11
            {{0x0f, 0x01, 0xd1}, "xsetbv", 3},
            {{0x0f, 0x01, 0xd9}, "vmmcall", 3},                     // wall 12
            {{0x0f, 0x01, 0xc1}, "vmcall", 3},
        },
        true);
}

TEST(InstructionNames, SystemInstructions) {
  check({
            {{0x0f, 0x30}, "wrmsr", 2},
            {{0x0f, 0x32}, "rdmsr", 2},
            {{0x0f, 0xa2}, "cpuid", 2},
            {{0xf4}, "hlt", 1},
            {{0x0f, 0x31}, "rdtsc", 2},
            {{0x0f, 0x01, 0xf9}, "rdtscp", 3},
            {{0x0f, 0x01, 0x15, 0x10, 0x00, 0x00, 0x00}, "lgdt", 7},  // lgdt 0x10(%rip)
            {{0x0f, 0x01, 0x1c, 0x24}, "lidt", 4},                    // lidt (%rsp)
            {{0x0f, 0x01, 0x38}, "invlpg", 3},                        // invlpg (%rax)
            {{0x0f, 0x01, 0x7d, 0x08}, "invlpg", 4},
            {{0x0f, 0x22, 0xd8}, "mov to cr3", 3},
            {{0x0f, 0x20, 0xe0}, "mov from cr4", 3},
            {{0x44, 0x0f, 0x22, 0xc0}, "mov to cr8", 4},              // REX.R reaches CR8
            {{0x0f, 0x22, 0x18}, "mov to cr3", 3},                    // mod is ignored: no operand follows
            {{0x0f, 0x23, 0xf8}, "mov to dr7", 3},
            {{0x0f, 0x21, 0xc0}, "mov from dr0", 3},
            {{0x0f, 0xae, 0x07}, "fxsave", 3},
            {{0x0f, 0xae, 0x0f}, "fxrstor", 3},
            {{0x48, 0x0f, 0xae, 0x07}, "fxsave64", 4},
            {{0x0f, 0xae, 0x27}, "xsave", 3},
            {{0x48, 0x0f, 0xae, 0x27}, "xsave64", 4},
            {{0x0f, 0xae, 0x37}, "xsaveopt", 3},
            {{0x0f, 0xae, 0x2f}, "xrstor", 3},
            {{0x0f, 0xae, 0xf0}, "mfence", 3},
            {{0xf3, 0x48, 0x0f, 0xae, 0xc0}, "rdfsbase", 5},
            {{0x0f, 0xc7, 0xf0}, "rdrand", 3},
            {{0x0f, 0x01, 0xc8}, "monitor", 3},
            {{0x0f, 0x01, 0xc9}, "mwait", 3},
            {{0x0f, 0x09}, "wbinvd", 2},
            {{0x0f, 0x0b}, "ud2", 2},
            {{0x0f, 0x00, 0xd8}, "ltr", 3},
            {{0x0f, 0x05}, "syscall", 2},
            {{0x48, 0xcf}, "iretq", 2},
            {{0xcd, 0x03}, "int $3", 2},
            {{0xcd, 0x80}, "int", 2},
            {{0xf3, 0x0f, 0xb8, 0x07}, "popcnt", 4},                  // memory form
        },
        true);
}

TEST(InstructionNames, PortIo) {
  check({
            {{0xe4, 0x70}, "in", 2},
            {{0xe5, 0x71}, "in", 2},
            {{0xec}, "in", 1},
            {{0x66, 0xed}, "in", 2},
            {{0xe6, 0x80}, "out", 2},
            {{0xee}, "out", 1},
            {{0xef}, "out", 1},
            {{0x6c}, "insb", 1},
            {{0xf3, 0x6d}, "rep insd", 2},
            {{0x66, 0x6f}, "outsw", 2},
            {{0xf3, 0x66, 0x6f}, "rep outsw", 3},
            {{0xe4}, nullptr},  // the port byte is missing
        },
        true);
}

TEST(InstructionNames, X87Escapes) {
  check({
            {{0xd9, 0xee}, "fldz", 2},
            {{0xd9, 0xe8}, "fld1", 2},
            {{0xdb, 0xe3}, "fninit", 2},
            {{0xdb, 0xe2}, "fnclex", 2},
            {{0xdf, 0xe0}, "fnstsw", 2},                // fnstsw %ax
            {{0xdd, 0x7d, 0xf0}, "fnstsw", 3},          // fnstsw -0x10(%rbp)
            {{0xd9, 0x7d, 0xfe}, "fnstcw", 3},
            {{0xd9, 0x6d, 0xfe}, "fldcw", 3},
            {{0xd9, 0xc9}, "fxch", 2},
            {{0xd9, 0xc0}, "fld", 2},
            {{0xd9, 0x45, 0x08}, "fld", 3},             // m32fp
            {{0xdd, 0x04, 0x24}, "fld", 3},             // m64fp through SIB
            {{0xdb, 0x2c, 0x24}, "fld", 3},             // m80fp
            {{0xd9, 0x5d, 0xf8}, "fstp", 3},
            {{0xdd, 0xd8}, "fstp", 2},                  // fstp %st(0)
            {{0xd9, 0x55, 0xf8}, "fst", 3},
            {{0xdb, 0x45, 0x08}, "fild", 3},
            {{0xdf, 0x6d, 0x08}, "fild", 3},            // m64int
            {{0xd8, 0xc1}, "fadd", 2},
            {{0xdc, 0x05, 0, 0, 0, 0}, "fadd", 6},      // m64fp, RIP-relative
            {{0xd8, 0x4d, 0x08}, "fmul", 3},
            {{0xdc, 0xe9}, "fsub", 2},                  // SDM: DC E8+i is FSUB ST(i),ST(0)
            {{0xdc, 0xe1}, "fsubr", 2},
            {{0xd8, 0x75, 0x08}, "fdiv", 3},
            {{0xde, 0xf9}, "fdivp", 2},
            {{0xde, 0xc1}, "faddp", 2},
            {{0xd8, 0xd1}, "fcom", 2},
            {{0xde, 0xd9}, "fcompp", 2},
            {{0xdb, 0xe9}, "fucomi", 2},
            {{0xda, 0xc1}, "fcmovb", 2},
            {{0x66, 0xd9, 0x65, 0x00}, "fldenv", 4},    // the operand size only changes the layout
            {{0x9b, 0xdb, 0xe3}, "fwait", 1},           // finit is two instructions: fwait first
            {{0xd9, 0xd1}, nullptr},                    // reserved register forms
            {{0xd9, 0xef}, nullptr},
            {{0xdb, 0xe4}, nullptr},
            {{0xdf, 0xc8}, nullptr},
            {{0xd9, 0x08}, nullptr},                    // D9 /1 with memory: reserved
            {{0xdb, 0x20}, nullptr},                    // DB /4 with memory: reserved
            {{0xd9}, nullptr},                          // ModRM missing
            {{0xdd, 0x7d}, nullptr},                    // displacement missing
            {{0xf3, 0xd9, 0xee}, nullptr},              // REP means nothing to x87: not named
            {{0xf0, 0xd9, 0xee}, nullptr},
        },
        true);
}

TEST(InstructionNames, PrefixesAndRex) {
  check({
            {{0x66, 0x2e, 0xf4}, "hlt", 3},                   // prefixes that change nothing are skipped
            {{0x65, 0x48, 0x0f, 0xae, 0x2f}, "xrstor64", 5},  // a segment override before REX
            {{0x67, 0x0f, 0x01, 0x16}, "lgdt", 4},            // 32-bit addressing: (%esi)
            {{0x48, 0x66, 0x0f, 0xae, 0x2f}, nullptr},        // REX not right before the opcode
            {{0x48, 0x48, 0x0f, 0x07}, nullptr},              // two REX
            {{0xf2, 0xf3, 0xf4}, nullptr},                    // F2 and F3 together
            {{0xf0, 0xf4}, nullptr},                          // LOCK hlt is #UD
            {{0xf0, 0x0f, 0xae, 0x2f}, nullptr},
            {{0xf3, 0x0f, 0x01, 0xca}, nullptr},              // F3 0F 01 xx is another instruction
            {{0xf2, 0x0f, 0xa2}, nullptr},
            {{0x0f, 0xb8, 0xc7}, nullptr},                    // 0F B8 without F3 is not POPCNT
            {{0x0f, 0x22, 0xc8}, nullptr},                    // CR1 does not exist
            {{0x44, 0x0f, 0x23, 0xc0}, nullptr},              // nor DR8
            {{0xf0, 0x0f, 0x22, 0xc0}, nullptr},
        },
        true);
  std::vector<uint8_t> longest(14, 0x66);
  longest.push_back(0xf4);
  check({{longest, "hlt", 15}}, true);
  longest.insert(longest.begin(), 0x66);  // 16 bytes: longer than any instruction
  check({{longest, nullptr}}, true);
}

TEST(InstructionNames, ThirtyTwoBitCode) {
  check({
            {{0x48, 0x0f, 0xae, 0x2f}, nullptr},            // 48 is DEC EAX here, not REX.W
            {{0x0f, 0xae, 0x2f}, "xrstor", 3},
            {{0x0f, 0x07}, "sysret", 2},
            {{0x0f, 0x01, 0xf8}, nullptr},                  // SWAPGS is #UD outside 64-bit code
            {{0x0f, 0x20, 0xe0}, "mov from cr4", 3},
            {{0x0f, 0x22, 0xc0}, "mov to cr0", 3},
            {{0xcf}, "iretd", 1},
            {{0x67, 0x0f, 0x01, 0x16, 0x34, 0x12}, "lgdt", 6},  // 16-bit addressing: disp16
            {{0x67, 0x0f, 0x01, 0x16, 0x34}, nullptr},
            {{0x0f, 0x01, 0x15, 0, 0, 0, 0}, "lgdt", 7},    // disp32, absolute in 32-bit code
            {{0xf3, 0x0f, 0xae, 0xc0}, nullptr},            // RDFSBASE exists only in 64-bit code
            {{0xd9, 0xee}, "fldz", 2},
        },
        false);
}

TEST(InstructionNames, UnknownAndTruncatedBytes) {
  check({
            {{}, nullptr},
            {{0x90}, nullptr},               // NOP: not a wall, not named
            {{0x48, 0x89, 0xe5}, nullptr},   // mov %rsp,%rbp
            {{0xc4, 0xe2, 0x79, 0x18, 0x00}, nullptr},  // VEX
            {{0x0f}, nullptr},
            {{0x0f, 0xae}, nullptr},
            {{0x0f, 0xae, 0x54, 0x24}, nullptr},  // disp8 missing
            {{0x0f, 0x01}, nullptr},
            {{0x0f, 0x01, 0xcc}, nullptr},   // an unassigned 0F 01 register form
            {{0x0f, 0x00, 0xf0}, nullptr},   // 0F 00 /6
            {{0xcd}, nullptr},
            {{0x66}, nullptr},
            {{0x48}, nullptr},
        },
        true);
}

}  // namespace
}  // namespace vmhive::x86
