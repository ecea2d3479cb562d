// Turning a validated configuration into a Machine ready to start: a new VM
// booting a kernel (build), or one that continues a snapshot (restore).
// Nothing else knows the order of set-up; everything that can fail before
// the guest runs fails here, with one message naming the input at fault.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "snapshot/snapshot_dir.h"
#include "vmm/machine.h"
#include "config/vm_config.h"

namespace vmhive {

class MachineBuilder {
 public:
  // A machine booting `config.kernel_path`. Warnings about the boot (Linux
  // options the kernel had no room for) go to `warnings`.
  static Result<std::unique_ptr<Machine>> build(const VmConfig& config, std::vector<std::string>* warnings = nullptr);
  // A machine that continues the snapshot in `config.snapshot_dir`
  // (docs/snapshots.md): its RAM maps the memory file copy-on-write, so any
  // number of machines can restore one snapshot and share the pages none of
  // them writes.
  static Result<std::unique_ptr<Machine>> restore(const RestoreConfig& config);

 private:
  struct Base {
    std::string console;
    uint64_t console_limit;
    std::string cpu_template;
    uint32_t vcpu_count;
    uint64_t memory_size;
  };
  // What booting and restoring share: console, the VM with its in-kernel
  // interrupt controllers and timer, RAM slots, the legacy devices.
  static Result<void> assemble_base(Machine& machine, const Base& base, GuestMemory memory);
  static Result<void> load_kernel_and_vcpus(Machine& machine, const VmConfig& config, std::vector<std::string>* warnings);
  static Result<void> restore_vcpus_and_devices(Machine& machine, const snapshot::MachineState& state);
  static Result<void> arm_pvm_syscall_repair(Machine& machine);
  // --write-protect-text: the machine's kernel text into read-only slots,
  // and the watch that takes writes to it (reported on `alert_fd`).
  static Result<void> protect_text(Machine& machine, bool protect, int alert_fd);
};

}  // namespace vmhive
