#include "daemon/state_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "common/atomic_file.h"
#include "common/directories.h"
#include "common/errno_error.h"
#include "common/fd_io.h"
#include "config/vm_spec_json.h"

namespace vmhive::daemon {
namespace {

constexpr size_t kMaxRecordBytes = 1 << 20;

Result<void> write_json(int dir, const char* name, const nlohmann::ordered_json& document,
                        AtomicFile::Durability durability = AtomicFile::Durability::kSynced) {
  const std::string text = document.dump(2) + "\n";
  return write_file_atomically(dir, name, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()), 0600,
                               durability);
}

}  // namespace

Result<StateStore> StateStore::open(const std::string& root) {
  auto root_fd = ensure_private_directory(root);
  if (!root_fd.ok()) return with_context("--state-dir", root_fd.error());
  auto vms_fd = ensure_private_directory(root + "/vms");
  if (!vms_fd.ok()) return with_context("--state-dir", vms_fd.error());
  // One daemon per state directory: a second would sweep the first's held
  // VMs and write over its records. The lock goes with the process.
  if (::flock(root_fd->get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return make_error("--state-dir " + root + ": another vmhived uses it");
    return errno_error("--state-dir: cannot lock", root);
  }
  auto held_fd = ensure_private_directory(root + "/held");
  if (!held_fd.ok()) return with_context("--state-dir", held_fd.error());
  return StateStore(root, std::move(*root_fd), std::move(*vms_fd), std::move(*held_fd));
}

Result<UniqueFd> StateStore::open_vm_dir(const std::string& name) const {
  VMHIVE_CHECK(config::check_name(name));
  UniqueFd dir(::openat(vms_fd_.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.valid()) return errno_error("cannot open the VM's directory", vm_dir(name));
  return dir;
}

Result<void> StateStore::create(const VmRecord& record) {
  VMHIVE_CHECK(config::check_name(record.name));
  if (::mkdirat(vms_fd_.get(), record.name.c_str(), 0700) != 0) {
    if (errno == EEXIST) return make_error("a VM named '" + record.name + "' exists already");
    return errno_error("cannot make the VM's directory", vm_dir(record.name));
  }
  UniqueFd dir = VMHIVE_TRY(open_vm_dir(record.name));
  constexpr auto kUnsynced = AtomicFile::Durability::kAtomicOnly;
  VMHIVE_CHECK(write_json(dir.get(), "config.json", config::vm_spec_to_json(record.spec), kUnsynced));
  VMHIVE_CHECK(write_json(dir.get(), "vm.json", record_to_json(record), kUnsynced));
  // The files' data first, then the directory that names them.
  std::vector<UniqueFd> to_sync;
  for (const char* file : {"config.json", "vm.json"}) {
    UniqueFd written(::openat(dir.get(), file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!written.valid()) return errno_error("cannot open", vm_file(record.name, file));
    to_sync.push_back(std::move(written));
  }
  to_sync.push_back(std::move(dir));
  syncer_->sync_later(std::move(to_sync), record.name);
  return {};
}

Result<void> StateStore::save(const VmRecord& record) {
  // Where the VM is in its life (phase, pid) means nothing after a power
  // loss, which ends every VM: written atomically, not synced. What was
  // created (its configuration) is synced after create().
  UniqueFd dir = VMHIVE_TRY(open_vm_dir(record.name));
  return write_json(dir.get(), "vm.json", record_to_json(record), AtomicFile::Durability::kAtomicOnly);
}

std::vector<VmRecord> StateStore::load_all(std::vector<std::string>* warnings) const {
  std::vector<VmRecord> records;
  UniqueFd listing(::openat(vms_fd_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  DIR* dir = listing.valid() ? ::fdopendir(listing.get()) : nullptr;
  if (dir == nullptr) return records;
  (void)listing.release();
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(dir);
  for (const std::string& name : names) {
    auto loaded = [&]() -> Result<VmRecord> {
      UniqueFd vm_dir_fd = VMHIVE_TRY(open_vm_dir(name));
      UniqueFd file(::openat(vm_dir_fd.get(), "vm.json", O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!file.valid()) return errno_error("cannot open", vm_file(name, "vm.json"));
      const std::vector<uint8_t> bytes = VMHIVE_TRY(read_to_end(file.get(), kMaxRecordBytes));
      const nlohmann::json document = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
      if (document.is_discarded()) return make_error(vm_file(name, "vm.json") + ": not JSON");
      VmRecord record = VMHIVE_TRY(record_from_json(document));
      if (record.name != name) return make_error(vm_file(name, "vm.json") + ": names another VM");
      return record;
    }();
    if (loaded.ok()) {
      records.push_back(std::move(*loaded));
    } else if (warnings != nullptr) {
      warnings->push_back("skipping " + vm_dir(name) + ": " + loaded.error().message);
    }
  }
  return records;
}

Result<void> StateStore::remove(const std::string& name) {
  UniqueFd dir = VMHIVE_TRY(open_vm_dir(name));
  for (const char* file : kVmFiles) {
    if (::unlinkat(dir.get(), file, 0) != 0 && errno != ENOENT) return errno_error("cannot remove", vm_file(name, file));
  }
  // A jailed VM's root: empty but for the mount point of its own /proc.
  UniqueFd jail(::openat(dir.get(), "jail", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (jail.valid()) {
    if (::unlinkat(jail.get(), "proc", AT_REMOVEDIR) != 0 && errno != ENOENT)
      return errno_error("cannot remove", vm_file(name, "jail/proc"));
    if (::unlinkat(dir.get(), "jail", AT_REMOVEDIR) != 0)
      return errno_error("cannot remove the VM's jail (something else is in it)", vm_file(name, "jail"));
  }
  if (::unlinkat(vms_fd_.get(), name.c_str(), AT_REMOVEDIR) != 0)
    return errno_error("cannot remove the VM's directory (something else is in it)", vm_dir(name));
  return {};
}

namespace {

// A held directory's name: "<pool>.<n>", so check_name holds for it too.
Result<void> check_held_name(const std::string& dir_name) {
  VMHIVE_CHECK(config::check_name(dir_name));
  return {};
}

// Removes the files a VM directory may hold, then the directory.
Result<void> remove_vm_files(int parent, const std::string& name, const std::string& path) {
  UniqueFd dir(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.valid()) return errno_error("cannot open", path);
  for (const char* file : kVmFiles) {
    if (::unlinkat(dir.get(), file, 0) != 0 && errno != ENOENT) return errno_error("cannot remove", path + "/" + file);
  }
  if (::unlinkat(parent, name.c_str(), AT_REMOVEDIR) != 0)
    return errno_error("cannot remove the directory (something else is in it)", path);
  return {};
}

}  // namespace

Result<void> StateStore::make_held_dir(const std::string& dir_name) {
  VMHIVE_CHECK(check_held_name(dir_name));
  if (::mkdirat(held_fd_.get(), dir_name.c_str(), 0700) != 0)
    return errno_error("cannot make the held VM's directory", held_dir(dir_name));
  return {};
}

Result<void> StateStore::remove_held_dir(const std::string& dir_name) {
  VMHIVE_CHECK(check_held_name(dir_name));
  return remove_vm_files(held_fd_.get(), dir_name, held_dir(dir_name));
}

Result<void> StateStore::adopt_held_dir(const std::string& dir_name, const VmRecord& record) {
  VMHIVE_CHECK(check_held_name(dir_name));
  VMHIVE_CHECK(config::check_name(record.name));
  if (::renameat2(held_fd_.get(), dir_name.c_str(), vms_fd_.get(), record.name.c_str(), RENAME_NOREPLACE) != 0) {
    if (errno == EEXIST) return make_error("a VM named '" + record.name + "' exists already");
    return errno_error("cannot move the held VM's directory to", vm_dir(record.name));
  }
  auto written = [&]() -> Result<void> {
    UniqueFd dir = VMHIVE_TRY(open_vm_dir(record.name));
    VMHIVE_CHECK(write_json(dir.get(), "config.json", config::vm_spec_to_json(record.spec)));
    return write_json(dir.get(), "vm.json", record_to_json(record));
  }();
  // Without its record the directory is no VM: it goes back, for the caller to remove.
  if (!written.ok()) (void)::renameat2(vms_fd_.get(), record.name.c_str(), held_fd_.get(), dir_name.c_str(), RENAME_NOREPLACE);
  return written;
}

void StateStore::sweep_held_dirs() {
  UniqueFd listing(::openat(held_fd_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  DIR* dir = listing.valid() ? ::fdopendir(listing.get()) : nullptr;
  if (dir == nullptr) return;
  (void)listing.release();
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name != "." && name != ".." && config::check_name(name).ok()) names.push_back(name);
  }
  ::closedir(dir);
  for (const std::string& name : names) (void)remove_vm_files(held_fd_.get(), name, held_dir(name));
}

Result<void> StateStore::save_pools(const nlohmann::ordered_json& pools) {
  return write_json(root_fd_.get(), "pools.json", pools);
}

Result<nlohmann::json> StateStore::load_pools() const {
  UniqueFd file(::openat(root_fd_.get(), "pools.json", O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!file.valid()) {
    if (errno == ENOENT) return nlohmann::json();
    return errno_error("cannot open", root_ + "/pools.json");
  }
  const std::vector<uint8_t> bytes = VMHIVE_TRY(read_to_end(file.get(), kMaxRecordBytes));
  nlohmann::json document = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (document.is_discarded()) return make_error(root_ + "/pools.json: not JSON");
  return document;
}

}  // namespace vmhive::daemon
