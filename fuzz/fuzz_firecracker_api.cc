// A Firecracker API client may send anything: every body parser must take
// any bytes to a value or an error, and a sequence of requests must walk
// the state machine (fcapi/fc_api.h) without a crash, answering only 200,
// 204 or 400, every 400 with a JSON {"fault_message": string}. The input is
// requests separated by NUL bytes, each "METHOD /path\n" then its body.
// The VMM behind the API is a fake whose snapshots fail, so that no fuzzed
// path is ever written (loading only compares files).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fcapi/fc_api.h"
#include "fcapi/fc_requests.h"

namespace {

using namespace vmhive;

class FakeController : public control::VmController {
 public:
  Result<void> pause() override {
    state_ = control::VmState::kPaused;
    return {};
  }
  Result<void> resume() override {
    state_ = control::VmState::kRunning;
    return {};
  }
  Result<control::SnapshotReport> snapshot(const std::string&, bool) override { return make_error("not here"); }
  void stop() override {}
  Result<void> press_ctrl_alt_del() override { return {}; }
  control::VmStatus status() const override { return {state_}; }
  control::VmStats stats() const override { return {}; }

 private:
  control::VmState state_ = control::VmState::kRunning;
};

class FakeVmm : public fcapi::Vmm {
 public:
  Result<void> boot(const config::VmSpec&) override {
    running_ = true;
    return {};
  }
  Result<void> load_snapshot(const std::string&, bool resume) override {
    running_ = true;
    if (!resume) (void)controller_.pause();
    return {};
  }
  control::VmController* controller() override { return running_ ? &controller_ : nullptr; }
  Result<void> open_logger(const std::string&) override { return {}; }
  Result<void> open_metrics(const std::string&) override { return {}; }
  Result<void> flush_metrics(fcapi::InstanceState) override { return {}; }

 private:
  bool running_ = false;
  FakeController controller_;
};

void check(const http::Response& response) {
  if (response.status != 200 && response.status != 204 && response.status != 400) __builtin_trap();
  if (response.status == 204) return;
  const auto body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) __builtin_trap();
  if (response.status == 400 && !(body.contains("fault_message") && body["fault_message"].is_string())) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // Every parser on the whole input.
  (void)fcapi::parse_boot_source(input);
  (void)fcapi::parse_machine_config(input);
  (void)fcapi::parse_drive(input);
  (void)fcapi::parse_network_interface(input);
  (void)fcapi::parse_action(input);
  (void)fcapi::parse_vm_state(input);
  (void)fcapi::parse_snapshot_create(input);
  (void)fcapi::parse_snapshot_load(input);
  (void)fcapi::parse_logger(input);
  (void)fcapi::parse_metrics(input);

  FakeVmm vmm;
  fcapi::FcApi api(vmm, config::VmSpec{}, fcapi::kDefaultInstanceId);
  std::string_view rest = input;
  for (int count = 0; !rest.empty() && count < 64; ++count) {
    const size_t end = std::min(rest.find('\0'), rest.size());
    std::string_view one = rest.substr(0, end);
    rest.remove_prefix(std::min(end + 1, rest.size()));
    const size_t line_end = std::min(one.find('\n'), one.size());
    const std::string_view line = one.substr(0, line_end);
    http::Request request;
    const size_t space = std::min(line.find(' '), line.size());
    request.method = std::string(line.substr(0, space));
    request.path = std::string(line.substr(std::min(space + 1, line.size())));
    request.target = request.path;
    request.body = std::string(one.substr(std::min(line_end + 1, one.size())));
    check(api.handle(request));
  }
  return 0;
}
