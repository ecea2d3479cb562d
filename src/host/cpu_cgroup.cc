#include "host/cpu_cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <vector>

#include "common/directories.h"
#include "common/errno_error.h"
#include "common/fd_io.h"

namespace vmhive::host {
namespace {

constexpr char kCgroupRoot[] = "/sys/fs/cgroup";

// Writes `value` to the control file `name` in the directory `dir`.
Result<void> write_control(int dir, const std::string& name, const std::string& value, const std::string& where) {
  UniqueFd fd(::openat(dir, name.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return errno_error("cgroup " + where + ": cannot open", name);
  if (auto written = write_fully(fd.get(), value); !written.ok())
    return with_context("cgroup " + where + ": " + name + " = " + value, written.error());
  return {};
}

// The process's cgroup in the hierarchy that has the cpu controller: "/a/b".
std::string current_cgroup(CpuCgroup::Version version) {
  std::ifstream file("/proc/self/cgroup");
  std::string line;
  while (std::getline(file, line)) {
    const size_t first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    if (version == CpuCgroup::Version::kV2 && line.rfind("0::", 0) == 0) return path;
    if (version == CpuCgroup::Version::kV1) {
      size_t start = 0;
      while (start <= controllers.size()) {
        const size_t comma = controllers.find(',', start);
        if (controllers.substr(start, comma == std::string::npos ? std::string::npos : comma - start) == "cpu")
          return path;
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    }
  }
  return "/";
}

// The mount of the cpu controller: v2's unified root, or v1's cpu directory.
Result<std::pair<CpuCgroup::Version, std::string>> cpu_hierarchy() {
  std::ifstream controllers(std::string(kCgroupRoot) + "/cgroup.controllers");
  std::string word;
  while (controllers >> word) {
    if (word == "cpu") return std::pair{CpuCgroup::Version::kV2, std::string(kCgroupRoot)};
  }
  for (const char* mount : {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpuacct,cpu"}) {
    struct stat info {};
    if (::stat((std::string(mount) + "/cpu.shares").c_str(), &info) == 0)
      return std::pair{CpuCgroup::Version::kV1, std::string(mount)};
  }
  return make_error("this host has no cpu cgroup controller (cgroup v2 with cpu, or v1's cpu mounted under " +
                    std::string(kCgroupRoot) + ")");
}

// Removes the cgroups under `parent` named "<...>-<pid>" whose process no
// longer exists. A cgroup still holding a process cannot be removed anyway.
void remove_stale_cgroups(int parent) {
  UniqueFd listing(::openat(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!listing.valid()) return;
  DIR* dir = ::fdopendir(listing.get());
  if (dir == nullptr) return;
  (void)listing.release();
  std::vector<std::string> stale;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    const size_t dash = name.rfind('-');
    if (entry->d_type != DT_DIR || dash == std::string::npos || dash + 1 == name.size()) continue;
    if (name.find_first_not_of("0123456789", dash + 1) != std::string::npos || name.size() - dash > 10) continue;
    const long pid = std::stol(name.substr(dash + 1));
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) stale.push_back(name);
  }
  ::closedir(dir);
  for (const std::string& name : stale) ::unlinkat(parent, name.c_str(), AT_REMOVEDIR);
}

}  // namespace

std::string CpuCgroup::name_for(const std::string& vm_name, pid_t pid) {
  return (vm_name.empty() ? std::string("vm") : vm_name) + "-" + std::to_string(pid);
}

Result<CpuCgroup> CpuCgroup::place(const CpuPolicy& cpu, const std::string& id) {
  CpuCgroup cgroup = VMHIVE_TRY(prepare(cpu, id));
  VMHIVE_CHECK(cgroup.move_in());
  return cgroup;
}

Result<CpuCgroup> CpuCgroup::prepare(const CpuPolicy& cpu, const std::string& id) {
  if (id.empty() || id.find('/') != std::string::npos || id == "." || id == "..")
    return make_error("cgroup name '" + id + "' is not a plain name");
  const auto [version, mount] = VMHIVE_TRY(cpu_hierarchy());
  const std::string home = mount + (current_cgroup(version) == "/" ? "" : current_cgroup(version));
  const std::string base = home + "/vmhive";
  if (::mkdir(base.c_str(), 0755) != 0 && errno != EEXIST) return errno_error("cannot make cgroup", base);
  UniqueFd home_dir = VMHIVE_TRY(open_directory(home));
  UniqueFd parent = VMHIVE_TRY(open_directory(base));
  remove_stale_cgroups(parent.get());
  if (version == Version::kV2) {
    // The controller must be handed down: to vmhive/ from its parent, and from vmhive/ to the VMs.
    (void)write_control(home_dir.get(), "cgroup.subtree_control", "+cpu", home);
    VMHIVE_CHECK(write_control(parent.get(), "cgroup.subtree_control", "+cpu", base));
  }
  const std::string path = base + "/" + id;
  if (::mkdirat(parent.get(), id.c_str(), 0755) != 0 && errno != EEXIST) return errno_error("cannot make cgroup", path);
  UniqueFd group = VMHIVE_TRY(open_directory(path));
  if (version == Version::kV1) {
    VMHIVE_CHECK(write_control(group.get(), "cpu.shares", std::to_string(v1_shares(cpu.weight)), path));
    VMHIVE_CHECK(write_control(group.get(), "cpu.cfs_period_us", std::to_string(kPeriodUs), path));
    VMHIVE_CHECK(write_control(group.get(), "cpu.cfs_quota_us",
                               cpu.cap_percent == 0 ? std::string("-1") : std::to_string(quota_us(cpu.cap_percent)), path));
  } else {
    VMHIVE_CHECK(write_control(group.get(), "cpu.weight", std::to_string(cpu.weight), path));
    VMHIVE_CHECK(write_control(group.get(), "cpu.max",
                               (cpu.cap_percent == 0 ? std::string("max") : std::to_string(quota_us(cpu.cap_percent))) +
                                   " " + std::to_string(kPeriodUs),
                               path));
  }
  UniqueFd home_procs(::openat(home_dir.get(), "cgroup.procs", O_WRONLY | O_CLOEXEC));
  if (!home_procs.valid()) return errno_error("cgroup " + home + ": cannot open", "cgroup.procs");
  UniqueFd procs(::openat(group.get(), "cgroup.procs", O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!procs.valid()) return errno_error("cgroup " + path + ": cannot open", "cgroup.procs");
  return CpuCgroup(version, path, id, std::move(parent), std::move(procs), std::move(home_procs));
}

Result<void> CpuCgroup::move_in() {
  if (auto written = write_fully(procs_.get(), pid_text_); !written.ok())
    return with_context("cgroup " + path_ + ": cgroup.procs = " + pid_text_, written.error());
  moved_in_ = true;
  return {};
}

CpuCgroup::~CpuCgroup() {
  if (!parent_.valid()) return;
  // Back where it came from, then the empty cgroup goes.
  if (moved_in_) (void)write_fully(home_procs_.get(), pid_text_);
  ::unlinkat(parent_.get(), name_.c_str(), AT_REMOVEDIR);
}

CgroupPlacement::CgroupPlacement(CpuPolicy cpu, std::string id, std::function<Result<void>()> confine_mover)
    : thread_([this, cpu = std::move(cpu), id = std::move(id), confine_mover = std::move(confine_mover)] {
        place(cpu, id, confine_mover);
      }) {}

void CgroupPlacement::place(const CpuPolicy& cpu, const std::string& id,
                            const std::function<Result<void>()>& confine_mover) {
  auto made = CpuCgroup::prepare(cpu, id);
  {
    std::lock_guard lock(mutex_);
    if (made.ok()) {
      cgroup_.emplace(std::move(*made));
    } else {
      prepare_error_ = made.error();
    }
    prepare_done_ = true;
  }
  prepared_changed_.notify_all();
  if (!cgroup_) return;
  // From here on only this thread touches cgroup_ until it ends.
  if (confine_mover) {
    if (auto confined = confine_mover(); !confined.ok()) {
      move_error_ = with_context("cannot confine the thread moving the process into its cgroup", confined.error());
      return;
    }
  }
  if (auto moved = cgroup_->move_in(); !moved.ok()) move_error_ = moved.error();
}

Result<void> CgroupPlacement::prepared() {
  std::unique_lock lock(mutex_);
  prepared_changed_.wait(lock, [this] { return prepare_done_; });
  if (prepare_error_) return *prepare_error_;
  return {};
}

Result<void> CgroupPlacement::finish() {
  VMHIVE_CHECK(prepared());
  if (thread_.joinable()) thread_.join();
  if (move_error_) return *move_error_;
  return {};
}

}  // namespace vmhive::host
