// vmhived's HTTP API (docs/api/vmhived.openapi.yaml): requests to
// operations on the VM registry, JSON in and out, errors as
// {"error": "<one line>"} with a 4xx/5xx status. Streams (GET /events,
// GET /vms/{name}/console) stay open and get chunks as things happen.
//
//   GET    /                          the daemon's name and version
//   GET    /vms                       every VM (?label=key=value filters)
//   POST   /vms                       create (body: a VM configuration, docs/vm-config.md)
//   GET    /vms/{name}                inspect
//   DELETE /vms/{name}[?force=true]   remove (force: kill a running one first)
//   POST   /vms/{name}/start|pause|resume
//   POST   /vms/{name}/stop           body {"force": bool} (optional)
//   POST   /vms/{name}/snapshot       body {"dir": "/abs/path", "resume": bool}
//   GET    /vms/{name}/logs[?bytes=N] the console log's last N bytes (text)
//   GET    /vms/{name}/console        the console's output as it comes (a stream; ?from=start for all of it)
//   POST   /vms/{name}/console        body: bytes for the guest's console input
//   POST   /snapshots/restore         body {"name", "snapshot": "/abs/dir", "taps": [...], "disks": [...], "labels"}
//   POST   /snapshots/clone           body {"snapshot", "count", "name_prefix", "tap_prefix", "disks", "labels"}:
//                                     VMs <prefix>-0 ... <prefix>-<count-1>, each restored and started
//   GET    /events                    events as JSON lines, as they happen (a stream)
//   GET    /metrics                   Prometheus text
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>

#include "daemon/vm_registry.h"
#include "http/http_server.h"

namespace vmhive::daemon {

inline constexpr char kDaemonVersion[] = "0.1";
inline constexpr uint64_t kMaxClonesPerRequest = 1024;

class DaemonApi {
 public:
  using ChunkSender = std::function<void(http::ConnectionId, std::string_view)>;

  DaemonApi(VmRegistry& registry, EventLog& events);
  DaemonApi(const DaemonApi&) = delete;
  DaemonApi& operator=(const DaemonApi&) = delete;

  // Where stream chunks go (the server's send_chunk).
  void set_chunk_sender(ChunkSender sender) { send_ = std::move(sender); }
  // Answers requests the handler deferred (a VM's answer to wait for).
  using Responder = std::function<void(http::ConnectionId, const http::Response&)>;
  void set_responder(Responder responder) { respond_ = std::move(responder); }

  http::Response handle(const http::Request& request, http::ConnectionId connection);
  void stream_closed(http::ConnectionId connection);
  // Sends what followed consoles wrote since the last call; how long the
  // loop may sleep before calling again (-1: nothing to follow).
  int pump_consoles();

 private:
  struct ConsoleFollower {
    std::string path;
    uint64_t offset = 0;
  };

  http::Response restore(const nlohmann::json& body);
  http::Response clone(const nlohmann::json& body);
  http::Response pools(const http::Request& request);
  http::Response route(const http::Request& request, http::ConnectionId connection);
  http::Response vm_operation(const http::Request& request, const std::string& name, const std::string& operation,
                              http::ConnectionId connection);

  VmRegistry& registry_;
  ChunkSender send_;
  Responder respond_;
  std::set<http::ConnectionId> event_streams_;
  std::map<http::ConnectionId, ConsoleFollower> consoles_;
};

// The JSON error body the daemon answers with, and responses made of it or of a JSON body.
std::string error_body(std::string_view message);
http::Response error_response(int status, std::string_view message);
http::Response json_response(int status, const nlohmann::ordered_json& body);

}  // namespace vmhive::daemon
