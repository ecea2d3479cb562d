#include "confinement/process_hygiene.h"

#include <dirent.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <vector>

#include "common/errno_error.h"

namespace vmhive::confinement {

Result<void> close_stray_descriptors(std::span<const int> keep) {
  // The descriptors are listed first and closed after: closing while
  // reading /proc/self/fd would disturb the listing.
  DIR* directory = ::opendir("/proc/self/fd");
  if (directory == nullptr) return errno_error("cannot list /proc/self/fd");
  std::vector<int> open;
  while (const dirent* entry = ::readdir(directory)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0') continue;
    open.push_back(static_cast<int>(fd));
  }
  const int listing = ::dirfd(directory);
  for (int fd : open) {
    if (fd <= STDERR_FILENO || fd == listing || std::find(keep.begin(), keep.end(), fd) != keep.end()) continue;
    ::close(fd);
  }
  ::closedir(directory);
  return {};
}

Result<void> set_no_new_privs() {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno_error("prctl(PR_SET_NO_NEW_PRIVS) failed");
  return {};
}

Result<void> drop_bounding_set() {
  // The bounding set can only shrink with CAP_SETPCAP; without it there is
  // nothing this process could regain anyway (no exec, no new privileges).
  cap_t current = cap_get_proc();
  cap_flag_value_t has_setpcap = CAP_CLEAR;
  if (current != nullptr) {
    cap_get_flag(current, CAP_SETPCAP, CAP_EFFECTIVE, &has_setpcap);
    cap_free(current);
  }
  if (has_setpcap != CAP_SET) return {};
  for (cap_value_t capability = 0; capability <= CAP_LAST_CAP; ++capability) {
    if (CAP_IS_SUPPORTED(capability) && cap_drop_bound(capability) != 0)
      return errno_error("cannot drop capability " + std::to_string(capability) + " from the bounding set");
  }
  return {};
}

Result<void> drop_capabilities() {
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    return errno_error("cannot clear the ambient capabilities");
  VMHIVE_CHECK(drop_bounding_set());
  const std::unique_ptr<std::remove_pointer_t<cap_t>, int (*)(void*)> none(cap_init(), cap_free);
  if (!none) return errno_error("cap_init failed");
  if (cap_set_proc(none.get()) != 0) return errno_error("cannot drop the process's capabilities");
  return {};
}

}  // namespace vmhive::confinement
