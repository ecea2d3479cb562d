// The request line of one control connection, read in whatever pieces the
// socket delivers: bytes in, and once a newline arrives, the line without
// it. Pure (no I/O), so the connection handling can be fuzzed.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>

#include "common/result.h"

namespace vmhive::control {

class RequestReader {
 public:
  explicit RequestReader(size_t max_line) : max_line_(max_line) {}

  // Takes the next bytes. Returns the line once it is complete (bytes after
  // its newline are ignored: one request per connection); nothing while it
  // is not; an error once it is longer than the limit.
  Result<std::optional<std::string>> feed(std::span<const char> bytes);
  // The peer closed its side: a line without its newline is still a request
  // (as `echo -n` sends it); nothing at all is an error.
  Result<std::string> finish();

 private:
  size_t max_line_;
  std::string line_;
  bool done_ = false;
};

}  // namespace vmhive::control
