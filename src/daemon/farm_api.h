// The honeyfarm's part of vmhived's HTTP API, and its dashboard: served on
// the daemon's Unix socket and, read-only, on the dashboard's TCP address
// (`vmhived --dashboard 127.0.0.1:8080`), since a browser cannot reach a
// Unix socket. Everything here only reads.
//
//   GET /dashboard                        the dashboard (one HTML page; it follows /farm/events)
//   GET /farm                             the farm now: state, range, live clones by address and
//                                         profile, counters, recent alerts
//   GET /farm/events                      server-sent events: the recent events, then each as it comes
//   GET /farm/clones/{address}/console    the last 16 KiB of that address's clone's console
#pragma once

#include <functional>
#include <set>
#include <string>
#include <string_view>

#include "daemon/farm_supervisor.h"
#include "http/http_message.h"
#include "http/http_server.h"

namespace vmhive::daemon {

class FarmApi {
 public:
  using ChunkSender = std::function<void(http::ConnectionId, std::string_view)>;

  // `farm` may be null (the daemon runs no farm): every farm route is a 404 saying so.
  explicit FarmApi(FarmSupervisor* farm);
  ~FarmApi();  // the farm's lines no longer come here (the farm may outlive this)
  FarmApi(const FarmApi&) = delete;
  FarmApi& operator=(const FarmApi&) = delete;

  static bool serves(const std::string& path);
  void set_chunk_sender(ChunkSender sender) { send_ = std::move(sender); }
  http::Response handle(const http::Request& request, http::ConnectionId connection);
  void stream_closed(http::ConnectionId connection) { streams_.erase(connection); }

 private:
  http::Response console(const std::string& address) const;

  FarmSupervisor* farm_;
  ChunkSender send_;
  std::set<http::ConnectionId> streams_;
};

// The dashboard's page: HTML, CSS and JavaScript in one document.
extern const char kDashboardPage[];

}  // namespace vmhive::daemon
