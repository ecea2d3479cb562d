// The x86-64 architectural bits vmhive reads and writes, named once: control
// registers, EFER, RFLAGS, page-table entries, page-fault error codes, the
// x87 status word, and model-specific register numbers. Citations are to the
// Intel SDM (order number 325462); AMD's APM agrees for everything here.
//
// kvm/vcpu.cc names IA32_FS_BASE/IA32_GS_BASE itself: kvm/ sits below arch/
// in the layering and must not include this header.
#pragma once

#include <cstdint>

namespace vmhive::x86 {

// CR0 (SDM Vol. 3A §2.5, Control Registers).
inline constexpr uint64_t kCr0ProtectionEnable = 1ull << 0;    // PE
inline constexpr uint64_t kCr0MonitorCoprocessor = 1ull << 1;  // MP: WAIT/FWAIT honours TS
inline constexpr uint64_t kCr0Emulation = 1ull << 2;           // EM
inline constexpr uint64_t kCr0TaskSwitched = 1ull << 3;        // TS: the next x87/SSE use raises #NM
inline constexpr uint64_t kCr0ExtensionType = 1ull << 4;       // ET: reads as 1 on every CPU since the 486
inline constexpr uint64_t kCr0NumericError = 1ull << 5;        // NE
inline constexpr uint64_t kCr0WriteProtect = 1ull << 16;       // WP: ring 0 honours read-only pages
inline constexpr uint64_t kCr0AlignmentMask = 1ull << 18;      // AM
inline constexpr uint64_t kCr0NotWriteThrough = 1ull << 29;    // NW
inline constexpr uint64_t kCr0CacheDisable = 1ull << 30;       // CD
inline constexpr uint64_t kCr0Paging = 1ull << 31;             // PG

// CR4 (SDM Vol. 3A §2.5).
inline constexpr uint64_t kCr4PhysicalAddressExtension = 1ull << 5;  // PAE: needed for long mode
inline constexpr uint64_t kCr4PageGlobalEnable = 1ull << 7;          // PGE
inline constexpr uint64_t kCr4OsFxsr = 1ull << 9;                    // OSFXSR
inline constexpr uint64_t kCr4OsXmmExceptions = 1ull << 10;          // OSXMMEXCPT
inline constexpr uint64_t kCr4FiveLevelPaging = 1ull << 12;          // LA57
inline constexpr uint64_t kCr4FsGsBase = 1ull << 16;                 // FSGSBASE
inline constexpr uint64_t kCr4Pcid = 1ull << 17;                     // PCIDE
inline constexpr uint64_t kCr4OsXsave = 1ull << 18;                  // OSXSAVE
inline constexpr uint64_t kCr4Smep = 1ull << 20;                     // SMEP
inline constexpr uint64_t kCr4Smap = 1ull << 21;                     // SMAP

// IA32_EFER (SDM Vol. 3A §2.2.1, Extended Feature Enable Register).
inline constexpr uint64_t kEferSyscallEnable = 1ull << 0;    // SCE
inline constexpr uint64_t kEferLongModeEnable = 1ull << 8;   // LME
inline constexpr uint64_t kEferLongModeActive = 1ull << 10;  // LMA
inline constexpr uint64_t kEferNoExecuteEnable = 1ull << 11; // NXE

// RFLAGS (SDM Vol. 1 §3.4.3, EFLAGS Register).
inline constexpr uint64_t kRflagsCarry = 1ull << 0;           // CF
inline constexpr uint64_t kRflagsAlwaysOne = 1ull << 1;       // reserved, reads as 1
inline constexpr uint64_t kRflagsParity = 1ull << 2;          // PF
inline constexpr uint64_t kRflagsAdjust = 1ull << 4;          // AF
inline constexpr uint64_t kRflagsZero = 1ull << 6;            // ZF
inline constexpr uint64_t kRflagsSign = 1ull << 7;            // SF
inline constexpr uint64_t kRflagsTrap = 1ull << 8;            // TF
inline constexpr uint64_t kRflagsInterruptEnable = 1ull << 9; // IF
inline constexpr uint64_t kRflagsDirection = 1ull << 10;      // DF
inline constexpr uint64_t kRflagsOverflow = 1ull << 11;       // OF
inline constexpr uint64_t kRflagsResume = 1ull << 16;         // RF
inline constexpr uint64_t kRflagsAlignmentCheck = 1ull << 18; // AC: with CR4.SMAP, ring 0 may touch user pages
// The six status flags arithmetic instructions define.
inline constexpr uint64_t kRflagsArithmetic =
    kRflagsCarry | kRflagsParity | kRflagsAdjust | kRflagsZero | kRflagsSign | kRflagsOverflow;

// Page-table entries, 4-level paging (SDM Vol. 3A §4.5: the formats of PML4E, PDPTE, PDE and PTE).
inline constexpr uint64_t kPtePresent = 1ull << 0;        // P
inline constexpr uint64_t kPteWritable = 1ull << 1;       // R/W
inline constexpr uint64_t kPteUser = 1ull << 2;           // U/S
inline constexpr uint64_t kPteAccessed = 1ull << 5;       // A
inline constexpr uint64_t kPteDirty = 1ull << 6;          // D
inline constexpr uint64_t kPteLargePage = 1ull << 7;      // PS: a 2 MiB (PDE) or 1 GiB (PDPTE) page
inline constexpr uint64_t kPteGlobal = 1ull << 8;         // G
inline constexpr uint64_t kPteNoExecute = 1ull << 63;     // XD
inline constexpr uint64_t kPteAddressMask = 0x000f'ffff'ffff'f000ull;  // bits 51:12, the next table or page

// Page-fault error code (SDM Vol. 3A §4.7, Page-Fault Exceptions).
inline constexpr uint64_t kPageFaultPresent = 1ull << 0;           // P: a protection fault, not a missing page
inline constexpr uint64_t kPageFaultWrite = 1ull << 1;             // W/R
inline constexpr uint64_t kPageFaultUser = 1ull << 2;              // U/S: the access came from ring 3
inline constexpr uint64_t kPageFaultReservedBit = 1ull << 3;       // RSVD
inline constexpr uint64_t kPageFaultInstructionFetch = 1ull << 4;  // I/D (reported with NX or SMEP on)

// Debug registers (SDM Vol. 3B §18.2): DR6 status, DR7 control.
inline constexpr uint64_t kDr6Breakpoint0 = 1ull << 0;   // B0: DR0's condition was met
inline constexpr uint64_t kDr6SingleStep = 1ull << 14;   // BS: a single-step trap (RFLAGS.TF)
inline constexpr uint64_t kDr7LocalEnable0 = 1ull << 0;  // L0; with R/W0 = LEN0 = 0, DR0 is an execute breakpoint

// x87 FPU status word (SDM Vol. 1 §8.1.3), the control word FINIT leaves
// (§8.1.5) and MXCSR at power-on (§10.2.3).
inline constexpr uint16_t kFswErrorSummary = 1u << 7;  // ES: an unmasked exception is pending
inline constexpr uint16_t kFcwAtReset = 0x037f;        // FINIT's control word: every exception masked
inline constexpr uint32_t kMxcsrAtReset = 0x1f80;      // every SSE exception masked

// Model-specific registers (SDM Vol. 4, Table 2-2).
inline constexpr uint32_t kMsrSysenterCs = 0x174;       // IA32_SYSENTER_CS
inline constexpr uint32_t kMsrSysenterEsp = 0x175;      // IA32_SYSENTER_ESP
inline constexpr uint32_t kMsrSysenterEip = 0x176;      // IA32_SYSENTER_EIP
inline constexpr uint32_t kMsrMiscEnable = 0x1a0;       // IA32_MISC_ENABLE
inline constexpr uint32_t kMsrMtrrDefType = 0x2ff;      // IA32_MTRR_DEF_TYPE
inline constexpr uint32_t kMsrEfer = 0xc0000080;        // IA32_EFER
inline constexpr uint32_t kMsrStar = 0xc0000081;        // IA32_STAR: SYSCALL/SYSRET selectors
inline constexpr uint32_t kMsrLstar = 0xc0000082;       // IA32_LSTAR: 64-bit SYSCALL target
inline constexpr uint32_t kMsrCstar = 0xc0000083;       // IA32_CSTAR: compat-mode SYSCALL target (AMD)
inline constexpr uint32_t kMsrSyscallMask = 0xc0000084; // IA32_FMASK: RFLAGS bits SYSCALL clears
inline constexpr uint32_t kMsrFsBase = 0xc0000100;      // IA32_FS_BASE
inline constexpr uint32_t kMsrGsBase = 0xc0000101;      // IA32_GS_BASE
inline constexpr uint32_t kMsrKernelGsBase = 0xc0000102; // IA32_KERNEL_GS_BASE: what SWAPGS swaps in
inline constexpr uint32_t kMsrTscAux = 0xc0000103;      // IA32_TSC_AUX

// IA32_MISC_ENABLE (SDM Vol. 4 Table 2-2) and IA32_MTRR_DEF_TYPE (SDM Vol. 3A, MTRRs) fields.
inline constexpr uint64_t kMiscEnableFastStrings = 1ull << 0;
inline constexpr uint64_t kMtrrDefTypeEnable = 1ull << 11;  // E: MTRRs on
inline constexpr uint64_t kMemoryTypeWriteBack = 6;         // the default type in IA32_MTRR_DEF_TYPE[7:0]

}  // namespace vmhive::x86
