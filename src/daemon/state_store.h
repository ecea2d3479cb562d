// The daemon's state directory (--state-dir, default /var/lib/vmhive):
//   <root>/vms/<name>/vm.json       the VM's record (vm_record.h), written atomically
//   <root>/vms/<name>/config.json   its configuration, as its process reads it
//   <root>/vms/<name>/console.log   the guest's serial output, bounded
//   <root>/vms/<name>/vmm.log       the VM process's stderr (its errors and crash report)
//   <root>/vms/<name>/console.in    a FIFO: the VM process's stdin (console input, graceful stop)
//   <root>/vms/<name>/control.sock  the VM process's control socket
//   <root>/vms/<name>/counters      the VM process's counters (control/counters_file.h)
//   <root>/vms/<name>/jail/         a jailed VM's root (vmhived --jail)
//   <root>/events.jsonl             the event log (event_log.h)
//   <root>/pools.json               the ready pools the daemon keeps (clone_pool.h)
//   <root>/held/<pool>.<n>/         a pool's held VM: the files of a VM directory, moved to
//                                   vms/<name> when a clone request takes it
// Every directory is 0700 and owned by the daemon's user, every file 0600;
// names are checked (config::check_name) before they become paths, and
// directories are opened without following links.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/background_sync.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "daemon/vm_record.h"

namespace vmhive::daemon {

class StateStore {
 public:
  static Result<StateStore> open(const std::string& root);

  const std::string& root() const { return root_; }
  int root_fd() const { return root_fd_.get(); }
  std::string vm_dir(const std::string& name) const { return root_ + "/vms/" + name; }
  std::string vm_file(const std::string& name, const char* file) const { return vm_dir(name) + "/" + file; }

  // Makes the VM's directory (a name already there is an error) and writes
  // its config.json and vm.json atomically; they are synced to disk just
  // after, off the caller's path (common/background_sync.h).
  Result<void> create(const VmRecord& record);
  // Background syncs that failed since the last call: the VM's name and why.
  std::vector<BackgroundSync::Failure> take_sync_failures() { return syncer_->take_failures(); }
  // The record again (vm.json; the configuration does not change): atomic,
  // not synced (a VM's phase and pid mean nothing after a power loss).
  Result<void> save(const VmRecord& record);
  // Every VM record found; a directory whose record cannot be read is
  // skipped with a warning in `warnings`.
  std::vector<VmRecord> load_all(std::vector<std::string>* warnings) const;
  // Removes the VM's directory and everything the daemon keeps in it.
  Result<void> remove(const std::string& name);

  // Held VMs' directories (<root>/held/<dir_name>), named by the daemon.
  std::string held_dir(const std::string& dir_name) const { return root_ + "/held/" + dir_name; }
  std::string held_file(const std::string& dir_name, const char* file) const {
    return held_dir(dir_name) + "/" + file;
  }
  Result<void> make_held_dir(const std::string& dir_name);
  Result<void> remove_held_dir(const std::string& dir_name);
  // Moves a held VM's directory to vms/<record.name> (never over one that
  // exists) and writes its record there.
  Result<void> adopt_held_dir(const std::string& dir_name, const VmRecord& record);
  // A previous daemon's held directories (their processes let go when it ended).
  void sweep_held_dirs();

  // <root>/pools.json: written atomically; nothing there reads as null.
  Result<void> save_pools(const nlohmann::ordered_json& pools);
  Result<nlohmann::json> load_pools() const;

 private:
  StateStore(std::string root, UniqueFd root_fd, UniqueFd vms_fd, UniqueFd held_fd)
      : root_(std::move(root)), root_fd_(std::move(root_fd)), vms_fd_(std::move(vms_fd)), held_fd_(std::move(held_fd)),
        syncer_(std::make_unique<BackgroundSync>()) {}
  Result<UniqueFd> open_vm_dir(const std::string& name) const;

  std::string root_;
  UniqueFd root_fd_;
  UniqueFd vms_fd_;
  UniqueFd held_fd_;
  std::unique_ptr<BackgroundSync> syncer_;  // its thread stays put when the store moves
};

// What each VM directory may hold; remove() deletes exactly these.
inline constexpr const char* kVmFiles[] = {"vm.json", "config.json", "console.log", "vmm.log", "console.in",
                                           "control.sock", "counters"};

}  // namespace vmhive::daemon
