// A VM's configuration as a JSON document (docs/vm-config.md, with its
// JSON Schema in docs/vm-config.schema.json): read strictly into a VmSpec
// (unknown members, wrong types and malformed values are one error naming
// the member), then checked by make_vm_config like the flags are.
//
//   {"name": "web-1", "kernel": "/images/vmlinux", "memory": "256M", "vcpus": 2,
//    "disks": [{"path": "/images/root.img", "overlay": "/vms/web-1.overlay"}],
//    "nets": [{"tap": "tap0", "mac": "52:54:00:12:34:56"}], "rng": true,
//    "cpu": {"weight": 200, "cap_percent": 50, "pins": [1]},
//    "labels": {"role": "honeypot"}}
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "config/vm_spec.h"

namespace vmhive::config {

inline constexpr size_t kMaxConfigBytes = 256 * 1024;

Result<VmSpec> vm_spec_from_json(std::string_view text);
Result<VmSpec> vm_spec_from_document(const nlohmann::json& document);
// The document for a spec (what a daemon keeps and shows); reading it back
// gives the same spec.
nlohmann::ordered_json vm_spec_to_json(const VmSpec& spec);

}  // namespace vmhive::config
