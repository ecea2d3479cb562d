// What a VM process does to itself before it runs a guest: it keeps no
// descriptor it did not open on purpose (a launcher's stray ones), can gain
// no privilege through exec (PR_SET_NO_NEW_PRIVS), and holds no capability
// once its devices are open.
#pragma once

#include <span>

#include "common/result.h"

namespace vmhive::confinement {

// Closes every descriptor above stderr except those in `keep`.
Result<void> close_stray_descriptors(std::span<const int> keep);

Result<void> set_no_new_privs();

// Drops every capability: effective, permitted and inheritable, the ambient
// set, and (where the process may) the bounding set.
Result<void> drop_capabilities();
// Empties the bounding set (needs CAP_SETPCAP; without it, does nothing).
Result<void> drop_bounding_set();

}  // namespace vmhive::confinement
