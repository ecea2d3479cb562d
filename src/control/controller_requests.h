// The per-VM control protocol's requests (control_request.h) carried out on
// a VmController: one request line in, one reply line out.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "control/vm_controller.h"

namespace vmhive::control {

// The reply line (with its newline) for request `line`: a malformed request
// or a failed operation is {"ok":false,"error":...}, never a throw.
std::string serve_request(std::string_view line, VmController& controller);

// A VM's stats as the "stats" reply's members: {"vcpu_seconds", "exits": {...}, "devices": [...]}.
nlohmann::ordered_json stats_to_json(const VmStats& stats);

}  // namespace vmhive::control
