#include "config/device_options.h"

#include <charconv>

#include <array>
#include <string>

namespace vmhive::config {

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
  VMHIVE_CHECK(check_disk_spec(spec, option));
  return spec;
}

Result<void> check_disk_spec(const virtio::DiskSpec& spec, const std::string& option) {
  if (spec.path.empty()) return make_error(option + ": the image path is missing");
  if (spec.read_only && !spec.overlay_path.empty()) {
    return make_error(option + ": readonly and overlay= cannot go together (the overlay takes the writes)");
  }
  if (!spec.overlay_path.empty() && spec.overlay_path == spec.path) {
    return make_error(option + ": the overlay cannot be the base image itself");
  }
  return {};
}

Result<void> check_tap_name(const std::string& tap, const std::string& option) {
  if (tap.empty() || tap.size() > 15 || tap.find('/') != std::string::npos || tap == "." || tap == "..")
    return make_error(option + ": tap= needs an interface name of 1 to 15 characters");
  return {};
}

Result<void> check_net_spec(const NetSpec& spec, const std::string& option) {
  if (!spec.tap.empty() && spec.socket_fd >= 0) return make_error(option + ": give tap= or fd=, not both");
  if (spec.tap.empty() && spec.socket_fd < 0) return make_error(option + ": tap=NAME or fd=N is required");
  if (!spec.tap.empty()) return check_tap_name(spec.tap, option);
  if (spec.socket_fd < 3 || spec.socket_fd > kMaxNetFd)
    return make_error(option + ": fd= needs an inherited descriptor from 3 to " + std::to_string(kMaxNetFd));
  return {};
}

Result<std::array<uint8_t, 6>> parse_mac(std::string_view text, const std::string& option) {
  std::array<uint8_t, 6> mac{};
  auto bad = [&] { return make_error(option + ": mac=" + std::string(text) + " is not six hex bytes like 52:54:00:12:34:56"); };
  if (text.size() != 17) return bad();
  for (size_t i = 0; i < 6; ++i) {
    unsigned value = 0;
    for (size_t j = 0; j < 2; ++j) {
      const char c = text[3 * i + j];
      const int digit = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                        : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
      if (digit < 0) return bad();
      value = value * 16 + static_cast<unsigned>(digit);
    }
    if (i < 5 && text[3 * i + 2] != ':') return bad();
    mac[i] = static_cast<uint8_t>(value);
  }
  if (mac[0] & 1) return make_error(option + ": mac=" + std::string(text) + " is a multicast address");
  return mac;
}

Result<NetSpec> parse_net_option(std::string_view text) {
  const std::string option = "--net " + std::string(text);
  if (text.empty()) return make_error("--net: give tap=NAME or fd=N, and optionally mac=MAC");
  NetSpec spec;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string_view field = text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
    if (field.substr(0, 4) == "tap=") {
      if (!spec.tap.empty()) return make_error(option + ": tap= given twice");
      spec.tap = std::string(field.substr(4));
      VMHIVE_CHECK(check_tap_name(spec.tap, option));
    } else if (field.substr(0, 3) == "fd=") {
      if (spec.socket_fd >= 0) return make_error(option + ": fd= given twice");
      const std::string_view digits = field.substr(3);
      int fd = 0;
      const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), fd);
      if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() || fd < 0)
        return make_error(option + ": fd= needs a descriptor number");
      spec.socket_fd = fd;
    } else if (field.substr(0, 4) == "mac=") {
      if (spec.mac) return make_error(option + ": mac= given twice");
      spec.mac = VMHIVE_TRY(parse_mac(field.substr(4), option));
    } else {
      return make_error(option + ": unknown setting '" + std::string(field) + "' (expected tap=NAME, fd=N or mac=MAC)");
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  VMHIVE_CHECK(check_net_spec(spec, option));
  return spec;
}

}  // namespace vmhive::config
