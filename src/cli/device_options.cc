#include "cli/device_options.h"

#include <string>

namespace vmhive::cli {

Result<virtio::DiskSpec> parse_disk_option(std::string_view text) {
  const std::string option = "--disk " + std::string(text);
  virtio::DiskSpec spec;
  size_t start = 0;
  bool first = true, saw_readonly = false, saw_overlay = false;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string_view field = text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
    if (first) {
      if (field.empty()) return make_error(option + ": the image path is missing");
      spec.path = std::string(field);
      first = false;
    } else if (field == "readonly") {
      if (saw_readonly) return make_error(option + ": readonly given twice");
      saw_readonly = spec.read_only = true;
    } else if (field.substr(0, 8) == "overlay=") {
      if (saw_overlay) return make_error(option + ": overlay= given twice");
      saw_overlay = true;
      spec.overlay_path = std::string(field.substr(8));
      if (spec.overlay_path.empty()) return make_error(option + ": overlay= needs a file name");
    } else {
      return make_error(option + ": unknown setting '" + std::string(field) +
                        "' (expected readonly or overlay=PATH)");
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (spec.read_only && !spec.overlay_path.empty()) {
    return make_error(option + ": readonly and overlay= cannot go together (the overlay takes the writes)");
  }
  if (!spec.overlay_path.empty() && spec.overlay_path == spec.path) {
    return make_error(option + ": the overlay cannot be the base image itself");
  }
  return spec;
}

}  // namespace vmhive::cli
