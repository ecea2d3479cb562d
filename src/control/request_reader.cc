#include "control/request_reader.h"

namespace vmhive::control {

Result<std::optional<std::string>> RequestReader::feed(std::span<const char> bytes) {
  if (done_) return std::optional<std::string>();
  for (const char byte : bytes) {
    if (byte == '\n') {
      done_ = true;
      return std::optional<std::string>(std::move(line_));
    }
    if (line_.size() == max_line_) return make_error("request longer than " + std::to_string(max_line_) + " bytes");
    line_.push_back(byte);
  }
  return std::optional<std::string>();
}

Result<std::string> RequestReader::finish() {
  if (done_ || line_.empty()) return make_error("connection closed without a request");
  done_ = true;
  return std::move(line_);
}

}  // namespace vmhive::control
