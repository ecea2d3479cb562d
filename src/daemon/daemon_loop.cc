#include "daemon/daemon_loop.h"

#include <poll.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <optional>

#include "common/errno_error.h"
#include "common/signal_fd.h"
#include "daemon/daemon_api.h"
#include "daemon/event_log.h"
#include "daemon/farm_api.h"
#include "daemon/farm_supervisor.h"
#include "daemon/state_store.h"

namespace vmhive::daemon {
namespace {

int earliest(int a, int b) {
  if (a < 0) return b;
  if (b < 0) return a;
  return std::min(a, b);
}

}  // namespace

Result<void> run_daemon(const DaemonOptions& options) {
  // One pidfd per VM, and a socket each while their counters are asked for:
  // thousands of VMs need more than the usual soft limit of 1,024.
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &files);
  }
  const SignalFd signals = VMHIVE_TRY(SignalFd::block({SIGINT, SIGTERM}));
  ::signal(SIGPIPE, SIG_IGN);
  StateStore store = VMHIVE_TRY(StateStore::open(options.state_dir));
  EventLog events = VMHIVE_TRY(EventLog::open(store.root_fd()));
  std::vector<std::string> warnings;
  auto registry = VMHIVE_TRY(VmRegistry::open(store, events, options.registry, &warnings));
  for (const std::string& warning : warnings) std::fprintf(stderr, "vmhived: warning: %s\n", warning.c_str());
  DaemonApi api(*registry, events);
  std::optional<FarmSupervisor> farm;
  if (!options.farm_config.empty())
    farm.emplace(VMHIVE_TRY(FarmSupervisor::start(options.farm_config, options.registry.vmhive_binary, events)));
  FarmApi farm_api(farm ? &*farm : nullptr);

  http::ServerOptions server_options;
  server_options.max_connections = options.max_connections;
  server_options.allowed_uids = options.allowed_uids;
  server_options.socket_owner = options.socket_owner;
  server_options.error_body = [](int, std::string_view message) { return error_body(message); };
  server_options.on_stream_closed = [&api, &farm_api](http::ConnectionId connection) {
    api.stream_closed(connection);
    farm_api.stream_closed(connection);
  };
  auto server = http::HttpServer::listen(options.socket_path, server_options);
  if (!server.ok()) return with_context("--socket", server.error());
  // The dashboard's server: its own connection ids, so its streams are told apart by a high bit.
  std::optional<http::HttpServer> dashboard;
  constexpr http::ConnectionId kDashboardStream = http::ConnectionId{1} << 62;
  if (!options.dashboard_address.empty()) {
    http::ServerOptions dashboard_options;
    dashboard_options.max_connections = 64;
    dashboard_options.timeout = std::chrono::milliseconds(30000);
    dashboard_options.error_body = server_options.error_body;
    dashboard_options.on_stream_closed = [&farm_api](http::ConnectionId connection) {
      farm_api.stream_closed(connection | kDashboardStream);
    };
    auto listening = http::HttpServer::listen_tcp(options.dashboard_address, options.dashboard_port, dashboard_options);
    if (!listening.ok()) return with_context("--dashboard", listening.error());
    dashboard.emplace(std::move(*listening));
  }
  api.set_chunk_sender([&server](http::ConnectionId connection, std::string_view data) {
    server->send_chunk(connection, data);
  });
  farm_api.set_chunk_sender([&server, &dashboard](http::ConnectionId connection, std::string_view data) {
    if ((connection & kDashboardStream) != 0) {
      if (dashboard) dashboard->send_chunk(connection & ~kDashboardStream, data);
    } else {
      server->send_chunk(connection, data);
    }
  });
  api.set_responder([&server](http::ConnectionId connection, const http::Response& response) {
    server->respond(connection, response);
  });
  const http::Handler handler = [&api, &farm_api](const http::Request& request, http::ConnectionId connection) {
    if (FarmApi::serves(request.path)) return farm_api.handle(request, connection);
    return api.handle(request, connection);
  };
  const http::Handler dashboard_handler = [&farm_api](const http::Request& request, http::ConnectionId connection) {
    if (request.path == "/") {
      http::Response moved;
      moved.status = 302;
      moved.headers.push_back({"Location", "/dashboard"});
      moved.body = "{}\n";
      return moved;
    }
    if (!FarmApi::serves(request.path)) {
      http::Response missing;
      missing.status = 404;
      missing.body = error_body("the dashboard's address serves only /dashboard and /farm");
      return missing;
    }
    return farm_api.handle(request, connection | kDashboardStream);
  };
  events.record("", "daemon_started", {{"pid", ::getpid()}, {"vms", registry->list().size()}});
  std::fprintf(stderr, "vmhived: serving %s, state in %s, %zu VMs\n", options.socket_path.c_str(),
               options.state_dir.c_str(), registry->list().size());

  std::vector<pollfd> fds;
  for (;;) {
    fds.clear();
    fds.push_back({signals.fd(), POLLIN, 0});
    server->add_poll_fds(fds);
    if (dashboard) dashboard->add_poll_fds(fds);
    const size_t farm_first = fds.size();
    if (farm) farm->add_poll_fds(fds);
    const size_t registry_first = fds.size();
    registry->add_poll_fds(fds);
    int timeout = earliest(earliest(server->poll_timeout_ms(), registry->poll_timeout_ms()), api.pump_consoles());
    if (dashboard) timeout = earliest(timeout, dashboard->poll_timeout_ms());
    const int ready = ::poll(fds.data(), fds.size(), timeout);
    if (ready < 0 && errno != EINTR) return errno_error("poll failed");
    if (fds[0].revents & POLLIN) {
      if (const int signal = signals.take(); signal == SIGTERM || signal == SIGINT) break;
    }
    registry->after_poll(std::span<const pollfd>(fds).subspan(registry_first));
    if (farm) farm->after_poll(std::span<const pollfd>(fds).subspan(farm_first, registry_first - farm_first));
    server->serve(handler);
    if (dashboard) dashboard->serve(dashboard_handler);
  }
  events.record("", "daemon_stopped", {{"vms_left_running", registry->list().size()}});
  return {};
}

}  // namespace vmhive::daemon
