// The Firecracker-compatible API of one VM (`vmhive run --api-sock`):
// routes each HTTP request to the state machine
//
//   Not started --InstanceStart / snapshot load--> Running <--PATCH /vm--> Paused
//
// with Firecracker's paths, bodies, status codes (204 on success, 200 for
// GET /, 400 with {"fault_message": ...} on any error) and rules: the
// configuration calls are pre-boot only, PATCH /vm and snapshot creation
// post-boot only, a snapshot is created only while Paused and loaded only
// by a process nothing else was configured in. docs/firecracker-api.md is
// the user's view, with what vmhive does not support.
//
// The VMM side is an interface, so that all of this is tested and fuzzed
// without KVM; vmm/api_runner.h implements it over a Machine.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "config/vm_spec.h"
#include "control/vm_controller.h"
#include "fcapi/fc_requests.h"
#include "http/http_server.h"

namespace vmhive::fcapi {

inline constexpr char kAppName[] = "vmhive";
inline constexpr char kVmmVersion[] = "0.1.0";
inline constexpr char kDefaultInstanceId[] = "anonymous-instance";  // Firecracker's, without --id

enum class InstanceState { kNotStarted, kRunning, kPaused };
const char* state_name(InstanceState state);  // "Not started", "Running", "Paused"

// What the API asks of the VMM. Called on the main loop's thread.
class Vmm {
 public:
  virtual ~Vmm() = default;
  // InstanceStart: builds the VM `spec` describes; it runs once this returns.
  virtual Result<void> boot(const config::VmSpec& spec) = 0;
  // PUT /snapshot/load: restores vmhive's snapshot directory `dir`; the VM
  // starts paused (before its first instruction) unless `resume`.
  virtual Result<void> load_snapshot(const std::string& dir, bool resume) = 0;
  // The controller of the VM once booted or loaded; null before (and for a
  // moment after, while the main loop starts it).
  virtual control::VmController* controller() = 0;
  // PUT /logger: from now on the VMM's log lines (its stderr) go to `path`.
  virtual Result<void> open_logger(const std::string& path) = 0;
  // PUT /metrics: open `path` for metrics lines; FlushMetrics writes one.
  virtual Result<void> open_metrics(const std::string& path) = 0;
  virtual Result<void> flush_metrics(InstanceState state) = 0;
};

// Firecracker's error body: {"fault_message": "..."}.
std::string fault_body(std::string_view message);

class FcApi {
 public:
  // `base`: what the command line gave (console, KVM device, CPU template,
  // ...), which the API's configuration completes. `id`: GET /'s id.
  FcApi(Vmm& vmm, config::VmSpec base, std::string id);

  http::Response handle(const http::Request& request);
  InstanceState state() const;
  // The VM was booted without InstanceStart (`run --api-sock --kernel ...`).
  void mark_started() { started_ = true; }

  // The VM InstanceStart boots: the base completed with what was PUT
  // (drives with the root device first, the root device on the command
  // line as Firecracker puts it). Public for tests.
  Result<config::VmSpec> boot_spec() const;

 private:
  Result<http::Response> route(const http::Request& request);
  std::string machine_config_json() const;
  Result<void> put_drive(std::string_view id, std::string_view body);
  Result<void> put_network_interface(std::string_view id, std::string_view body);
  Result<void> action(std::string_view body);
  Result<void> patch_vm(std::string_view body);
  Result<void> create_snapshot(std::string_view body);
  Result<void> load_snapshot(std::string_view body);
  Result<void> require_not_started() const;
  Result<control::VmController*> require_started() const;

  Vmm& vmm_;
  config::VmSpec base_;
  std::string id_;
  bool started_ = false;
  bool loaded_paused_ = false;  // loaded with resume_vm false, before any controller answers
  bool configured_ = false;     // anything but the logger and metrics was PUT
  bool logger_ = false;
  bool metrics_ = false;
  std::optional<BootSource> boot_source_;
  std::optional<MachineConfig> machine_;
  std::vector<Drive> drives_;            // in the order first PUT
  std::vector<NetworkInterface> nets_;  // likewise
};

}  // namespace vmhive::fcapi
