// An Error for a failed system call, carrying the errno text:
//   errno_error("cannot open", path)  ->  "cannot open /x/y: No such file or directory"
// Call it right after the failing call, before anything can change errno.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include "common/result.h"

namespace vmhive {

// `what` says what failed, `subject` (optional) on what: a path, a name.
inline Error error_from_code(int code, std::string_view what, std::string_view subject = {}) {
  std::string message(what);
  if (!subject.empty()) {
    message += ' ';
    message += subject;
  }
  message += ": ";
  message += std::strerror(code);
  return make_error(std::move(message));
}

inline Error errno_error(std::string_view what, std::string_view subject = {}) {
  return error_from_code(errno, what, subject);
}

}  // namespace vmhive
