// Human-readable descriptions of why a guest crashed: the exit, the
// instruction bytes KVM reports and the registers.
#pragma once

#include <linux/kvm.h>

#include <optional>
#include <string>

namespace vmhive {

// "emulation failure at rip 0x...: instruction bytes 0f 0b ..." from a
// KVM_EXIT_INTERNAL_ERROR exit (Documentation/virt/kvm/api.rst, internal).
std::string describe_internal_error(const kvm_run& run);
std::string describe_registers(const kvm_regs& regs, const std::optional<kvm_sregs>& sregs);

}  // namespace vmhive
