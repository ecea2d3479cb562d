// A whole file as a string (empty if it cannot be read), for tests that
// compare files before and after.
#pragma once

#include <fstream>
#include <string>

namespace vmhive::testing {

inline std::string file_contents(const std::string& path) {
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  if (!file) return {};
  std::string bytes(static_cast<size_t>(file.tellg()), '\0');
  file.seekg(0);
  file.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return bytes;
}

}  // namespace vmhive::testing
