// What SYSCALL and SYSRET do to a 64-bit CPU's state (SDM vol. 2B), as pure
// functions on KVM's register structures, for a host that gets them wrong.
//
// KVM-PVM runs a non-PVM guest's ring 3 natively and its ring 0 through the
// instruction emulator. On SYSCALL from ring 3 it loads RIP from LSTAR, RCX,
// R11 and the masked RFLAGS, but leaves the vCPU in ring 3 (CS 0x23): the
// first fetch from the guest's supervisor-only entry code then raises a
// page fault that the guest takes as a user-mode fault (Linux: "segfault at
// ip entry_SYSCALL_64 error 15"). And its emulator has no SYSRET at all.
// vmhive finishes both in user space (arch/x86/pvm_syscall_repair.h).
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <optional>
#include <span>

// STAR, LSTAR, CSTAR, FMASK and KERNEL_GS_BASE (kMsrStar, ...) are named in
// registers.h; callers of this header use them, so it comes along.
#include "arch/x86/registers.h"

namespace vmhive::x86 {

// The segments SYSCALL loads: CS from STAR[47:32] (64-bit code, DPL 0) and
// SS = that + 8 (flat data, DPL 0), with the fixed descriptors the SDM gives.
kvm_segment syscall_code_segment(uint64_t star);
kvm_segment syscall_stack_segment(uint64_t star);
// The segments SYSRET loads, RPL 3: 64-bit CS = STAR[63:48] + 16, compat CS
// = STAR[63:48], SS = STAR[63:48] + 8.
kvm_segment sysret_code_segment(uint64_t star, bool to_64_bit);
kvm_segment sysret_stack_segment(uint64_t star);

// The hardware part of an exception frame on the stack (error code first).
struct ExceptionFrame {
  uint64_t error_code;
  uint64_t rip;
  uint64_t cs;
  uint64_t rflags;
  uint64_t rsp;
  uint64_t ss;
};

// True when a page fault taken with `frame` and `fault_address` (CR2) is the
// host's half-done SYSCALL: ring 3 faulting on an instruction fetch at the
// SYSCALL target itself (LSTAR for 64-bit code, CSTAR for compat code).
bool is_stranded_syscall(const ExceptionFrame& frame, uint64_t fault_address, uint64_t lstar, uint64_t cstar);

// Turns the state at the guest's page-fault handler back into the state
// right after a SYSCALL in ring 0: RIP at the target, the user's RSP and
// RFLAGS (already masked by the host), CS and SS from STAR. RCX and R11 were
// already set by the host and are left alone.
void finish_stranded_syscall(const ExceptionFrame& frame, uint64_t star, kvm_regs& regs, kvm_sregs& sregs);

// Whether `instruction` starts with SYSRET (0F 07, at most one REX prefix
// before it), and which: true for REX.W (to 64-bit mode), false for compat.
std::optional<bool> decode_sysret(std::span<const uint8_t> instruction);

enum class SysretResult {
  kNotSysret,         // the bytes are not exactly one SYSRET
  kCompleted,         // regs and sregs now hold ring 3's state
  kGeneralProtection  // the CPU raises #GP(0) instead (CPL != 0, or RCX non-canonical)
};

// Carries out SYSRET (0F 07: to compat mode; REX.W 0F 07: to 64-bit mode)
// on the registers. `instruction` starts with the guest's bytes (KVM may
// report more than one instruction's worth; the rest is ignored); anything
// but these encodings, with at most one REX prefix, is kNotSysret.
SysretResult complete_sysret(std::span<const uint8_t> instruction, uint64_t star, kvm_regs& regs, kvm_sregs& sregs);

}  // namespace vmhive::x86
