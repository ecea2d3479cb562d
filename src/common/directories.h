// Directories the VMM reads or writes files in, opened so that a link in
// their place is never followed, and ones it keeps its own files in checked
// to be private to the VMM's user.
#pragma once

#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace vmhive {

// A directory, opened with O_DIRECTORY | O_NOFOLLOW: a symlink in its place is refused.
Result<UniqueFd> open_directory(const std::string& path);

// A directory for the VMM's own files (consoles, sockets, overlays), created
// 0700 if missing. An existing one must be a directory (not a link) owned
// by this user and writable by nobody else: otherwise another user could
// plant or swap files in it.
Result<UniqueFd> ensure_private_directory(const std::string& path);

}  // namespace vmhive
