// Human-readable descriptions of why a guest crashed: the exit, the
// instruction bytes KVM reports and the registers.
#pragma once

#include <linux/kvm.h>

#include <optional>
#include <string>

namespace vmhive {

// "KVM internal error 1 (instruction emulation failed); instruction bytes:
// d9 ee (fldz)" from a KVM_EXIT_INTERNAL_ERROR exit (Documentation/virt/kvm/
// api.rst, internal). The bytes are named by x86::name_instruction when it
// knows them. `long_mode` says whether the vCPU ran 64-bit code (CS.L); a
// caller that cannot tell passes nullopt, and the bytes are named as 64-bit
// code (emulation failures come from 64-bit kernels on the hosts that
// produce them), with ", if 64-bit code" added where 32-bit code would
// read them differently (a REX prefix is DEC/INC there).
std::string describe_internal_error(const kvm_run& run, std::optional<bool> long_mode = std::nullopt);
std::string describe_registers(const kvm_regs& regs, const std::optional<kvm_sregs>& sregs);

}  // namespace vmhive
