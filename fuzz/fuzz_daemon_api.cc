// vmhived's API is a local client's input: arbitrary bytes are read as an
// HTTP request (as the server does) and routed through the daemon's API over
// a real registry and state directory. Whatever comes in, the answer is a
// status with a JSON body (or a stream), never a crash. Starting a VM is the
// one operation left out: it runs a process per input (so does setting a
// ready pool, whose body is only parsed).
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "daemon/clone_pool.h"
#include "daemon/daemon_api.h"
#include "daemon/event_log.h"
#include "daemon/state_store.h"
#include "daemon/vm_registry.h"
#include "http/http_request_reader.h"

namespace {

struct Daemon {
  Daemon() {
    char pattern[] = "/tmp/fuzz-daemon-XXXXXX";
    root = ::mkdtemp(pattern);
    store = std::make_unique<vmhive::daemon::StateStore>(std::move(*vmhive::daemon::StateStore::open(root + "/state")));
    events = std::make_unique<vmhive::daemon::EventLog>(std::move(*vmhive::daemon::EventLog::open(store->root_fd())));
    vmhive::daemon::RegistryOptions options;
    options.vmhive_binary = "/nonexistent/vmhive";
    options.max_vms = 32;
    registry = std::move(*vmhive::daemon::VmRegistry::open(*store, *events, options, nullptr));
    api = std::make_unique<vmhive::daemon::DaemonApi>(*registry, *events);
  }
  std::string root;
  std::unique_ptr<vmhive::daemon::StateStore> store;
  std::unique_ptr<vmhive::daemon::EventLog> events;
  std::unique_ptr<vmhive::daemon::VmRegistry> registry;
  std::unique_ptr<vmhive::daemon::DaemonApi> api;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Daemon daemon;
  vmhive::http::HttpRequestReader reader;
  const auto outcome = reader.feed(std::string_view(reinterpret_cast<const char*>(data), size));
  if (outcome.state != vmhive::http::ReadOutcome::State::kComplete) return 0;
  const vmhive::http::Request& request = outcome.request;
  if (request.path.size() >= 6 && request.path.compare(request.path.size() - 6, 6, "/start") == 0) return 0;
  // Setting a pool starts its held VMs' processes: only its body is read here.
  if (request.method == "PUT" && request.path.rfind("/pools/", 0) == 0) {
    const auto body = nlohmann::json::parse(request.body, nullptr, false);
    if (!body.is_discarded()) (void)vmhive::daemon::pool_spec_from_json(body);
    return 0;
  }
  const vmhive::http::Response response = daemon.api->handle(request, 1);
  if (response.status < 200 || response.status > 599) __builtin_trap();
  if (response.stream) {
    daemon.api->stream_closed(1);
    return 0;
  }
  if (response.content_type == "application/json" && !response.body.empty() &&
      nlohmann::json::parse(response.body, nullptr, false).is_discarded())
    __builtin_trap();
  return 0;
}
