#include "arch/x86/instruction_names.h"

#include <array>

#include "arch/x86/memory_operand.h"
#include "arch/x86/software_exception.h"
#include "arch/x86/syscall_semantics.h"

namespace vmhive::x86 {
namespace {

constexpr size_t kMaxInstructionLength = 15;  // SDM Vol. 2 §2.3.11

// Legacy prefixes (SDM Vol. 2 §2.1.1) and REX (§2.2.1) in front of the opcode.
struct Prefixes {
  bool lock = false;           // F0
  bool repne = false;          // F2
  bool rep = false;            // F3
  bool operand_size = false;   // 66
  bool address_size = false;   // 67
  uint8_t rex = 0;             // 0: none
  size_t length = 0;           // bytes before the opcode

  bool rex_w() const { return (rex & 0x8) != 0; }
  bool rex_r() const { return (rex & 0x4) != 0; }
  // F2 and F3 select other instructions in the 0F map, and LOCK is #UD on
  // almost everything: where neither is expected, either makes it unknown.
  bool lock_or_rep() const { return lock || repne || rep; }
};

bool is_legacy_prefix(uint8_t byte) {
  switch (byte) {
    case 0xf0: case 0xf2: case 0xf3: case 0x66: case 0x67:
    case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65:
      return true;
    default:
      return false;
  }
}

bool is_rex(uint8_t byte, bool long_mode) { return long_mode && (byte & 0xf0) == 0x40; }

std::optional<Prefixes> read_prefixes(std::span<const uint8_t> bytes, bool long_mode) {
  Prefixes prefixes;
  while (prefixes.length < bytes.size() && is_legacy_prefix(bytes[prefixes.length])) {
    switch (bytes[prefixes.length]) {
      case 0xf0: prefixes.lock = true; break;
      case 0xf2: prefixes.repne = true; break;
      case 0xf3: prefixes.rep = true; break;
      case 0x66: prefixes.operand_size = true; break;
      case 0x67: prefixes.address_size = true; break;
      default: break;  // segment overrides name nothing here
    }
    if (++prefixes.length >= kMaxInstructionLength) return std::nullopt;
  }
  if (prefixes.rep && prefixes.repne) return std::nullopt;  // which one wins differs by opcode
  if (prefixes.length < bytes.size() && is_rex(bytes[prefixes.length], long_mode)) {
    prefixes.rex = bytes[prefixes.length++];
    // A REX counts only right before the opcode; the CPU ignores one followed
    // by another prefix, and so much doubt is not named.
    if (prefixes.length < bytes.size() &&
        (is_legacy_prefix(bytes[prefixes.length]) || is_rex(bytes[prefixes.length], long_mode))) {
      return std::nullopt;
    }
  }
  return prefixes;
}

class Decoder {
 public:
  Decoder(std::span<const uint8_t> bytes, bool long_mode, const Prefixes& prefixes)
      : bytes_(bytes), long_mode_(long_mode), prefixes_(prefixes) {}

  std::optional<NamedInstruction> one_byte_map() const;

 private:
  std::optional<NamedInstruction> named(std::string_view name, size_t length) const {
    if (name.empty() || length > bytes_.size() || length > kMaxInstructionLength) return std::nullopt;
    return NamedInstruction{name, length};
  }
  std::optional<ModrmOperand> modrm(size_t at) const {
    if (at >= bytes_.size()) return std::nullopt;
    const AddressSize size = long_mode_ ? (prefixes_.address_size ? AddressSize::k32 : AddressSize::k64)
                                        : (prefixes_.address_size ? AddressSize::k16 : AddressSize::k32);
    return decode_modrm(bytes_.subspan(at), size);
  }

  std::optional<NamedInstruction> string_io(uint8_t opcode, size_t end) const;
  std::optional<NamedInstruction> x87(uint8_t opcode, size_t modrm_at) const;
  std::optional<NamedInstruction> two_byte_map(size_t at) const;
  std::optional<NamedInstruction> group6(size_t modrm_at) const;
  std::optional<NamedInstruction> group7(size_t modrm_at) const;
  std::optional<NamedInstruction> group9(size_t modrm_at) const;
  std::optional<NamedInstruction> group15(size_t modrm_at) const;
  std::optional<NamedInstruction> control_or_debug_move(uint8_t opcode, size_t modrm_at) const;

  std::span<const uint8_t> bytes_;
  bool long_mode_;
  Prefixes prefixes_;
};

// ---- x87 escapes D8-DF (SDM Vol. 2 Appendix A.5) ----

// Memory forms, by escape (D8..DF) and ModRM.reg. Empty: reserved.
constexpr std::array<std::array<std::string_view, 8>, 8> kX87Memory = {{
    {"fadd", "fmul", "fcom", "fcomp", "fsub", "fsubr", "fdiv", "fdivr"},          // D8 m32fp
    {"fld", "", "fst", "fstp", "fldenv", "fldcw", "fnstenv", "fnstcw"},           // D9
    {"fiadd", "fimul", "ficom", "ficomp", "fisub", "fisubr", "fidiv", "fidivr"},  // DA m32int
    {"fild", "fisttp", "fist", "fistp", "", "fld", "", "fstp"},                   // DB (m80fp at /5, /7)
    {"fadd", "fmul", "fcom", "fcomp", "fsub", "fsubr", "fdiv", "fdivr"},          // DC m64fp
    {"fld", "fisttp", "fst", "fstp", "frstor", "", "fnsave", "fnstsw"},           // DD
    {"fiadd", "fimul", "ficom", "ficomp", "fisub", "fisubr", "fidiv", "fidivr"},  // DE m16int
    {"fild", "fisttp", "fist", "fistp", "fbld", "fild", "fbstp", "fistp"},        // DF
}};

// Register forms (ModRM C0-FF) where ModRM.reg alone decides, by escape and
// reg. Empty: see kX87RegisterSingles. DC and DE name the reverse forms as
// the SDM does (DC E8+i is FSUB ST(i),ST(0)), not as GNU objdump does.
constexpr std::array<std::array<std::string_view, 8>, 8> kX87Register = {{
    {"fadd", "fmul", "fcom", "fcomp", "fsub", "fsubr", "fdiv", "fdivr"},              // D8
    {"fld", "fxch", "", "", "", "", "", ""},                                          // D9
    {"fcmovb", "fcmove", "fcmovbe", "fcmovu", "", "", "", ""},                        // DA
    {"fcmovnb", "fcmovne", "fcmovnbe", "fcmovnu", "", "fucomi", "fcomi", ""},         // DB
    {"fadd", "fmul", "", "", "fsubr", "fsub", "fdivr", "fdiv"},                       // DC
    {"ffree", "", "fst", "fstp", "fucom", "fucomp", "", ""},                          // DD
    {"faddp", "fmulp", "", "", "fsubrp", "fsubp", "fdivrp", "fdivp"},                 // DE
    {"", "", "", "", "", "fucomip", "fcomip", ""},                                    // DF
}};

struct X87Single {
  uint8_t escape;
  uint8_t modrm;
  std::string_view name;
};

// Register forms named by the whole ModRM byte.
constexpr X87Single kX87RegisterSingles[] = {
    {0xd9, 0xd0, "fnop"},    {0xd9, 0xe0, "fchs"},    {0xd9, 0xe1, "fabs"},    {0xd9, 0xe4, "ftst"},
    {0xd9, 0xe5, "fxam"},    {0xd9, 0xe8, "fld1"},    {0xd9, 0xe9, "fldl2t"},  {0xd9, 0xea, "fldl2e"},
    {0xd9, 0xeb, "fldpi"},   {0xd9, 0xec, "fldlg2"},  {0xd9, 0xed, "fldln2"},  {0xd9, 0xee, "fldz"},
    {0xd9, 0xf0, "f2xm1"},   {0xd9, 0xf1, "fyl2x"},   {0xd9, 0xf2, "fptan"},   {0xd9, 0xf3, "fpatan"},
    {0xd9, 0xf4, "fxtract"}, {0xd9, 0xf5, "fprem1"},  {0xd9, 0xf6, "fdecstp"}, {0xd9, 0xf7, "fincstp"},
    {0xd9, 0xf8, "fprem"},   {0xd9, 0xf9, "fyl2xp1"}, {0xd9, 0xfa, "fsqrt"},   {0xd9, 0xfb, "fsincos"},
    {0xd9, 0xfc, "frndint"}, {0xd9, 0xfd, "fscale"},  {0xd9, 0xfe, "fsin"},    {0xd9, 0xff, "fcos"},
    {0xda, 0xe9, "fucompp"}, {0xdb, 0xe2, "fnclex"},  {0xdb, 0xe3, "fninit"},  {0xde, 0xd9, "fcompp"},
    {0xdf, 0xe0, "fnstsw"},
};

std::optional<NamedInstruction> Decoder::x87(uint8_t opcode, size_t modrm_at) const {
  if (prefixes_.lock_or_rep()) return std::nullopt;
  const auto operand = modrm(modrm_at);
  if (!operand) return std::nullopt;
  const size_t end = modrm_at + operand->length;
  const unsigned escape = opcode - 0xd8u;
  if (operand->mod != 3) return named(kX87Memory[escape][operand->reg], end);
  if (!kX87Register[escape][operand->reg].empty()) return named(kX87Register[escape][operand->reg], end);
  for (const auto& single : kX87RegisterSingles) {
    if (single.escape == opcode && single.modrm == bytes_[modrm_at]) return named(single.name, end);
  }
  return std::nullopt;
}

// ---- the one-byte map ----

std::optional<NamedInstruction> Decoder::string_io(uint8_t opcode, size_t end) const {
  // INS/OUTS (6C-6F) take REP; the operand size picks the word or dword form.
  if (prefixes_.lock || prefixes_.repne) return std::nullopt;
  const bool rep = prefixes_.rep;
  const bool word = prefixes_.operand_size;
  switch (opcode) {
    case 0x6c: return named(rep ? "rep insb" : "insb", end);
    case 0x6d: return named(rep ? (word ? "rep insw" : "rep insd") : (word ? "insw" : "insd"), end);
    case 0x6e: return named(rep ? "rep outsb" : "outsb", end);
    default: return named(rep ? (word ? "rep outsw" : "rep outsd") : (word ? "outsw" : "outsd"), end);
  }
}

std::optional<NamedInstruction> Decoder::one_byte_map() const {
  const size_t at = prefixes_.length;
  if (at >= bytes_.size()) return std::nullopt;
  const uint8_t opcode = bytes_[at];
  const size_t after = at + 1;
  if (opcode >= 0x6c && opcode <= 0x6f) return string_io(opcode, after);
  // INT3, INT1, INT 3 and UD2 as software_exception decodes them.
  if (!prefixes_.lock_or_rep()) {
    if (auto exception = decode_software_exception(bytes_.subspan(at))) {
      return named(exception->mnemonic, at + exception->length);
    }
  }
  if (opcode == 0x0f) return two_byte_map(after);
  if (opcode >= 0xd8 && opcode <= 0xdf) return x87(opcode, after);
  if (prefixes_.lock_or_rep()) return std::nullopt;
  switch (opcode) {
    case 0x9b: return named("fwait", after);
    case 0xcd: return named("int", after + 1);  // INT imm8 (INT 3 named above)
    case 0xcf: return named(prefixes_.rex_w() ? "iretq" : prefixes_.operand_size ? "iret" : "iretd", after);
    case 0xe4: case 0xe5: return named("in", after + 1);   // port imm8
    case 0xe6: case 0xe7: return named("out", after + 1);
    case 0xec: case 0xed: return named("in", after);       // port in DX
    case 0xee: case 0xef: return named("out", after);
    case 0xf4: return named("hlt", after);
    case 0xfa: return named("cli", after);
    case 0xfb: return named("sti", after);
    default: return std::nullopt;
  }
}

// ---- the two-byte map (0F xx) ----

// 0F 00: LLDT, LTR and their readers; any ModRM form.
std::optional<NamedInstruction> Decoder::group6(size_t modrm_at) const {
  static constexpr std::array<std::string_view, 8> kNames = {"sldt", "str", "lldt", "ltr", "verr", "verw", "", ""};
  if (prefixes_.lock_or_rep()) return std::nullopt;
  const auto operand = modrm(modrm_at);
  if (!operand) return std::nullopt;
  return named(kNames[operand->reg], modrm_at + operand->length);
}

// 0F 01: descriptor tables and INVLPG in the memory forms; in the register
// forms, one instruction per ModRM byte (VMX, SVM, MONITOR, XGETBV, SMAP,
// SWAPGS, RDTSCP...).
std::optional<NamedInstruction> Decoder::group7(size_t modrm_at) const {
  static constexpr std::array<std::string_view, 8> kMemory = {"sgdt", "sidt",  "lgdt", "lidt",
                                                              "smsw", "",      "lmsw", "invlpg"};
  if (prefixes_.lock_or_rep()) return std::nullopt;
  const auto operand = modrm(modrm_at);
  if (!operand) return std::nullopt;
  const size_t end = modrm_at + operand->length;
  if (operand->mod != 3) return named(kMemory[operand->reg], end);
  if (operand->reg == 4) return named("smsw", end);
  if (operand->reg == 6) return named("lmsw", end);
  if (prefixes_.operand_size) return std::nullopt;
  switch (bytes_[modrm_at]) {
    case 0xc1: return named("vmcall", end);
    case 0xc2: return named("vmlaunch", end);
    case 0xc3: return named("vmresume", end);
    case 0xc4: return named("vmxoff", end);
    case 0xc8: return named("monitor", end);
    case 0xc9: return named("mwait", end);
    case 0xca: return named("clac", end);
    case 0xcb: return named("stac", end);
    case 0xd0: return named("xgetbv", end);
    case 0xd1: return named("xsetbv", end);
    case 0xd8: return named("vmrun", end);
    case 0xd9: return named("vmmcall", end);
    case 0xda: return named("vmload", end);
    case 0xdb: return named("vmsave", end);
    case 0xdc: return named("stgi", end);
    case 0xdd: return named("clgi", end);
    case 0xde: return named("skinit", end);
    case 0xdf: return named("invlpga", end);
    case 0xee: return named("rdpkru", end);
    case 0xef: return named("wrpkru", end);
    case 0xf8: return long_mode_ ? named("swapgs", end) : std::nullopt;  // #UD outside 64-bit code
    case 0xf9: return named("rdtscp", end);
    case 0xfa: return named("monitorx", end);
    case 0xfb: return named("mwaitx", end);
    default: return std::nullopt;
  }
}

// 0F C7: CMPXCHG8B/16B (the one LOCK may precede), the compacted XSAVE
// forms and VMX pointers in memory; RDRAND, RDSEED and RDPID in registers.
std::optional<NamedInstruction> Decoder::group9(size_t modrm_at) const {
  const auto operand = modrm(modrm_at);
  if (!operand) return std::nullopt;
  const size_t end = modrm_at + operand->length;
  const bool w = prefixes_.rex_w();
  const bool plain = !prefixes_.lock_or_rep() && !prefixes_.operand_size;
  if (operand->mod != 3) {
    switch (operand->reg) {
      case 1:
        if (prefixes_.repne || prefixes_.rep || prefixes_.operand_size) return std::nullopt;
        return named(w ? "cmpxchg16b" : "cmpxchg8b", end);
      case 3: return plain ? named(w ? "xrstors64" : "xrstors", end) : std::nullopt;
      case 4: return plain ? named(w ? "xsavec64" : "xsavec", end) : std::nullopt;
      case 5: return plain ? named(w ? "xsaves64" : "xsaves", end) : std::nullopt;
      case 6:
        if (prefixes_.lock || prefixes_.repne) return std::nullopt;
        if (prefixes_.rep) return prefixes_.operand_size ? std::nullopt : named("vmxon", end);
        return named(prefixes_.operand_size ? "vmclear" : "vmptrld", end);
      case 7: return plain ? named("vmptrst", end) : std::nullopt;
      default: return std::nullopt;
    }
  }
  if (prefixes_.lock || prefixes_.repne) return std::nullopt;
  if (operand->reg == 6 && !prefixes_.rep) return named("rdrand", end);
  if (operand->reg == 7) {
    if (prefixes_.rep) return prefixes_.operand_size ? std::nullopt : named("rdpid", end);
    return named("rdseed", end);
  }
  return std::nullopt;
}

// 0F AE: FXSAVE/XSAVE and friends, LDMXCSR/STMXCSR and CLFLUSH in memory;
// the fences, and (F3, 64-bit code) RD/WR FS/GS BASE in registers.
std::optional<NamedInstruction> Decoder::group15(size_t modrm_at) const {
  static constexpr std::array<std::string_view, 8> kMemory = {
      "fxsave", "fxrstor", "ldmxcsr", "stmxcsr", "xsave", "xrstor", "xsaveopt", "clflush"};
  static constexpr std::array<std::string_view, 8> kMemoryRexW = {
      "fxsave64", "fxrstor64", "ldmxcsr", "stmxcsr", "xsave64", "xrstor64", "xsaveopt64", "clflush"};
  static constexpr std::array<std::string_view, 8> kFences = {"", "", "", "", "", "lfence", "mfence", "sfence"};
  static constexpr std::array<std::string_view, 8> kBases = {"rdfsbase", "rdgsbase", "wrfsbase", "wrgsbase",
                                                             "",         "",         "",         ""};
  if (prefixes_.lock || prefixes_.repne) return std::nullopt;
  const auto operand = modrm(modrm_at);
  if (!operand) return std::nullopt;
  const size_t end = modrm_at + operand->length;
  if (operand->mod != 3) {
    if (prefixes_.rep) return std::nullopt;
    if (prefixes_.operand_size) {
      if (operand->reg == 6) return named("clwb", end);
      if (operand->reg == 7) return named("clflushopt", end);
      return std::nullopt;
    }
    return named((prefixes_.rex_w() ? kMemoryRexW : kMemory)[operand->reg], end);
  }
  if (prefixes_.rep) return long_mode_ && !prefixes_.operand_size ? named(kBases[operand->reg], end) : std::nullopt;
  if (prefixes_.operand_size) return std::nullopt;
  return named(kFences[operand->reg], end);
}

// 0F 20-23: MOV from/to a control or debug register. The CPU takes ModRM as
// a register form whatever its mod field says (SDM: "MOV—Move to/from
// Control Registers"), so nothing follows ModRM.
std::optional<NamedInstruction> Decoder::control_or_debug_move(uint8_t opcode, size_t modrm_at) const {
  static constexpr std::array<std::string_view, 9> kFromCr = {
      "mov from cr0", "", "mov from cr2", "mov from cr3", "mov from cr4", "", "", "", "mov from cr8"};
  static constexpr std::array<std::string_view, 9> kToCr = {
      "mov to cr0", "", "mov to cr2", "mov to cr3", "mov to cr4", "", "", "", "mov to cr8"};
  static constexpr std::array<std::string_view, 8> kFromDr = {"mov from dr0", "mov from dr1", "mov from dr2",
                                                              "mov from dr3", "mov from dr4", "mov from dr5",
                                                              "mov from dr6", "mov from dr7"};
  static constexpr std::array<std::string_view, 8> kToDr = {"mov to dr0", "mov to dr1", "mov to dr2",
                                                            "mov to dr3", "mov to dr4", "mov to dr5",
                                                            "mov to dr6", "mov to dr7"};
  if (prefixes_.lock_or_rep() || modrm_at >= bytes_.size()) return std::nullopt;
  const unsigned reg = ((bytes_[modrm_at] >> 3) & 7) | (prefixes_.rex_r() ? 8u : 0u);
  const size_t end = modrm_at + 1;
  const bool to = opcode == 0x22 || opcode == 0x23;
  if (opcode == 0x20 || opcode == 0x22) {
    if (reg >= kToCr.size() || (reg == 8 && !long_mode_)) return std::nullopt;  // CR8 exists in 64-bit code
    return named(to ? kToCr[reg] : kFromCr[reg], end);
  }
  if (reg >= kToDr.size()) return std::nullopt;  // REX.R with a debug register is #UD
  return named(to ? kToDr[reg] : kFromDr[reg], end);
}

std::optional<NamedInstruction> Decoder::two_byte_map(size_t at) const {
  if (at >= bytes_.size()) return std::nullopt;
  const uint8_t opcode = bytes_[at];
  const size_t after = at + 1;
  switch (opcode) {
    case 0x00: return group6(after);
    case 0x01: return group7(after);
    case 0x20: case 0x21: case 0x22: case 0x23: return control_or_debug_move(opcode, after);
    case 0xae: return group15(after);
    case 0xc7: return group9(after);
    case 0xb8: {  // F3 0F B8: POPCNT (without F3 it is JMPE or #UD)
      if (!prefixes_.rep || prefixes_.lock) return std::nullopt;
      const auto operand = modrm(after);
      return operand ? named("popcnt", after + operand->length) : std::nullopt;
    }
    default: break;
  }
  if (prefixes_.lock_or_rep()) return std::nullopt;
  switch (opcode) {
    case 0x05: return named("syscall", after);
    case 0x06: return named("clts", after);
    case 0x07: {
      // SYSRET as syscall_semantics decodes it: [REX] 0F 07, REX.W for 64-bit.
      const size_t from = prefixes_.length - (prefixes_.rex != 0 ? 1 : 0);
      const auto to_64_bit = decode_sysret(bytes_.subspan(from));
      return to_64_bit ? named(*to_64_bit ? "sysretq" : "sysret", after) : std::nullopt;
    }
    case 0x08: return named("invd", after);
    case 0x09: return named("wbinvd", after);
    case 0x30: return named("wrmsr", after);
    case 0x31: return named("rdtsc", after);
    case 0x32: return named("rdmsr", after);
    case 0x33: return named("rdpmc", after);
    case 0x34: return named("sysenter", after);
    case 0x35: return named("sysexit", after);
    case 0xa2: return named("cpuid", after);
    case 0xb9: case 0xff: {  // UD1, UD0: defined to raise #UD, with a ModRM operand
      const auto operand = modrm(after);
      return operand ? named(opcode == 0xb9 ? "ud1" : "ud0", after + operand->length) : std::nullopt;
    }
    default: return std::nullopt;
  }
}

}  // namespace

std::optional<NamedInstruction> identify_instruction(std::span<const uint8_t> bytes, bool long_mode) {
  const auto prefixes = read_prefixes(bytes, long_mode);
  if (!prefixes) return std::nullopt;
  return Decoder(bytes, long_mode, *prefixes).one_byte_map();
}

std::optional<std::string_view> name_instruction(std::span<const uint8_t> bytes, bool long_mode) {
  const auto instruction = identify_instruction(bytes, long_mode);
  if (!instruction) return std::nullopt;
  return instruction->name;
}

}  // namespace vmhive::x86
