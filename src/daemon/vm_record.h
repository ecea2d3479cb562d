// What the daemon knows of one VM, and keeps in its state directory
// (<state>/vms/<name>/vm.json) so that a restarted daemon finds its VMs
// again: the configuration, where the VM is in its life, its process and
// how it ended.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "config/vm_spec.h"

namespace vmhive::daemon {

// created --start--> running <--pause/resume--> paused
// running|paused --stop--> stopping --process ends--> exited --start--> running
enum class VmPhase { kCreated, kRunning, kPaused, kStopping, kExited };
const char* phase_name(VmPhase phase);
std::optional<VmPhase> phase_from_name(std::string_view name);

struct VmExit {
  std::optional<int> status;  // the process's exit status; none when killed by a signal or not known
  std::optional<int> signal;  // the signal that killed it
  std::string reason;         // "exited", "stopped", "killed", "crashed", "seccomp", "vanished"
  std::string message;        // the VMM's last stderr line, if any
  int64_t at_ms = 0;          // wall-clock time, ms since the epoch
};

// A VM started from a snapshot (vmhive restore) instead of a kernel.
struct RestoreSource {
  std::string snapshot_dir;        // absolute
  std::vector<std::string> taps;   // one per virtio-net device in the snapshot
  std::vector<std::string> disks;  // the read-only images the snapshot used in place (restore --disk)
  bool operator==(const RestoreSource&) const = default;
};

struct VmRecord {
  std::string name;  // config::check_name: the key, a directory name
  config::VmSpec spec;  // for a restored VM only its name and labels mean anything
  std::optional<RestoreSource> restore;
  VmPhase phase = VmPhase::kCreated;
  pid_t pid = 0;                 // while running, paused or stopping
  uint64_t pid_start_ticks = 0;  // /proc/<pid>/stat starttime: tells the VM's process from a later one with its pid
  int64_t created_ms = 0;
  int64_t started_ms = 0;
  uint32_t starts = 0;
  std::optional<VmExit> exit;  // the last time its process ended
};

nlohmann::ordered_json record_to_json(const VmRecord& record);
// Strict: what record_to_json wrote reads back the same; anything else is an error.
Result<VmRecord> record_from_json(const nlohmann::json& document);

int64_t wall_clock_ms();

}  // namespace vmhive::daemon
