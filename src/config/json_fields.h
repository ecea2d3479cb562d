// Reading a JSON document's members strictly, for every configuration
// format (a VM's, a farm's): each helper checks one member's type and range
// and names the member in its error ("cpu.weight: 0 is not from 1 to 10000").
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace vmhive::config {

using nlohmann::json;

inline Error bad(const std::string& member, const std::string& want) { return make_error(member + ": " + want); }

inline Result<std::string> string_of(const json& value, const std::string& member) {
  if (!value.is_string()) return bad(member, "must be a string");
  return value.get<std::string>();
}

inline Result<bool> bool_of(const json& value, const std::string& member) {
  if (!value.is_boolean()) return bad(member, "must be true or false");
  return value.get<bool>();
}

inline Result<uint32_t> uint_of(const json& value, const std::string& member, uint32_t min, uint32_t max) {
  if (!value.is_number_integer() || (value.is_number_integer() && value.get<int64_t>() < 0 && !value.is_number_unsigned()))
    return bad(member, "must be a whole number from " + std::to_string(min) + " to " + std::to_string(max));
  const uint64_t number = value.is_number_unsigned() ? value.get<uint64_t>() : static_cast<uint64_t>(value.get<int64_t>());
  if (number < min || number > max)
    return bad(member, std::to_string(number) + " is not from " + std::to_string(min) + " to " + std::to_string(max));
  return static_cast<uint32_t>(number);
}

// Calls `each(key, value)` for every member of the object `value`, refusing
// members not in `known`.
template <class Each>
Result<void> members_of(const json& value, const std::string& where, std::initializer_list<const char*> known,
                        Each each) {
  if (!value.is_object()) return bad(where.empty() ? "the configuration" : where, "must be a JSON object");
  for (const auto& [key, member] : value.items()) {
    bool is_known = false;
    for (const char* name : known) is_known |= key == name;
    const std::string path = where.empty() ? key : where + "." + key;
    if (!is_known) return make_error("unknown member \"" + key.substr(0, 64) + "\"" + (where.empty() ? "" : " in " + where));
    VMHIVE_CHECK(each(key, member, path));
  }
  return {};
}

}  // namespace vmhive::config
