// How Firecracker's two snapshot files map onto vmhive's snapshot directory
// (snapshot/snapshot_dir.h: `state`, `memory` and `disk-N` in one
// directory). snapshot_path names the directory; the memory file is always
// <snapshot_path>/memory, and mem_file_path is kept as a symbolic link to
// it, so that a tool which reads, copies or passes on "the memory file"
// finds it where it asked. Loading accepts any mem_file_path that is that
// same file (the directory's own name for it, or a link to it), and refuses
// one that is not: vmhive never loads guest memory from elsewhere.
#pragma once

#include <string>

#include "common/result.h"

namespace vmhive::fcapi {

// After a snapshot was written to `snapshot_dir`: makes `mem_file_path` name
// its memory file (nothing to do if it does already; else a new symbolic
// link; an existing file there that is something else is refused, never
// replaced).
Result<void> link_memory_file(const std::string& snapshot_dir, const std::string& mem_file_path);

// Before loading: `mem_file_path` must be the snapshot's memory file.
Result<void> check_memory_file(const std::string& snapshot_dir, const std::string& mem_file_path);

}  // namespace vmhive::fcapi
