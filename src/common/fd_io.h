// Whole reads and writes on file descriptors, retrying short transfers and
// EINTR, so no caller writes the loop again.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace vmhive {

// Writes every byte or fails (a pipe or socket closed early is an error).
// Sockets are written with MSG_NOSIGNAL semantics where the fd is a socket.
Result<void> write_fully(int fd, std::span<const uint8_t> bytes);
Result<void> write_fully(int fd, std::string_view text);
// Writes every byte at `offset` (pwrite).
Result<void> pwrite_fully(int fd, std::span<const uint8_t> bytes, uint64_t offset);

// Reads until `buffer` is full or end of file; returns how many bytes came.
Result<size_t> read_fully(int fd, std::span<uint8_t> buffer);
// Reads exactly buffer.size() bytes at `offset`; end of file first is an error.
Result<void> pread_exactly(int fd, std::span<uint8_t> buffer, uint64_t offset);

// The rest of the file from its current offset, refusing more than `max_size` bytes.
Result<std::vector<uint8_t>> read_to_end(int fd, size_t max_size);

}  // namespace vmhive
