#include "daemon/daemon_api.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <vector>

#include "common/unique_fd.h"
#include "config/vm_spec_json.h"

namespace vmhive::daemon {
namespace {

constexpr int kConsolePollMs = 100;
constexpr size_t kDefaultLogBytes = 64 * 1024;
constexpr size_t kMaxConsoleChunk = 64 * 1024;

// Answered later through the responder (DaemonApi::set_responder).
http::Response deferred() {
  http::Response response;
  response.deferred = true;
  return response;
}

int status_for(const Error& error) {
  switch (error.kind) {
    case ErrorKind::kInvalid: return 400;
    case ErrorKind::kNotFound: return 404;
    case ErrorKind::kConflict: return 409;
    case ErrorKind::kUnavailable: return 503;
    case ErrorKind::kOther: return 500;
  }
  return 500;
}

http::Response failure(const Error& error) { return error_response(status_for(error), error.message); }

nlohmann::ordered_json summary_of(const VmRecord& record) {
  nlohmann::ordered_json summary{{"name", record.name}, {"phase", phase_name(record.phase)}, {"pid", record.pid},
                                 {"vcpus", record.spec.cpus},  {"memory", record.spec.mem},
                                 {"created_ms", record.created_ms}, {"started_ms", record.started_ms}};
  summary["labels"] = record.spec.labels;
  if (record.exit) summary["exit_reason"] = record.exit->reason;
  return summary;
}

// The body as a JSON object ({} when empty), or a 400.
Result<nlohmann::json> body_object(const http::Request& request) {
  if (request.body.empty()) return nlohmann::json::object();
  nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
  if (body.is_discarded()) return make_error(ErrorKind::kInvalid, "the body is not JSON");
  if (!body.is_object()) return make_error(ErrorKind::kInvalid, "the body must be a JSON object");
  return body;
}

// A boolean member, strictly: absent is the default, anything but true/false an error.
Result<bool> flag(const nlohmann::json& body, const char* name, bool fallback) {
  const auto found = body.find(name);
  if (found == body.end()) return fallback;
  if (!found->is_boolean()) return make_error(ErrorKind::kInvalid, std::string(name) + ": must be true or false");
  return found->get<bool>();
}

Result<void> only_members(const nlohmann::json& body, std::initializer_list<const char*> allowed) {
  for (const auto& [key, value] : body.items()) {
    bool known = false;
    for (const char* name : allowed) known = known || key == name;
    if (!known) return make_error(ErrorKind::kInvalid, "unknown member \"" + key + "\"");
  }
  return {};
}

bool query_true(const http::Request& request, const char* name) {
  const auto found = request.query.find(name);
  return found != request.query.end() && (found->second == "true" || found->second == "1");
}

}  // namespace

http::Response json_response(int status, const nlohmann::ordered_json& body) {
  http::Response response;
  response.status = status;
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  return response;
}

http::Response error_response(int status, std::string_view message) {
  http::Response response;
  response.status = status;
  response.body = error_body(message);
  return response;
}

std::string error_body(std::string_view message) {
  return nlohmann::json{{"error", std::string(message)}}.dump(-1, ' ', false,
                                                               nlohmann::json::error_handler_t::replace) +
         "\n";
}

DaemonApi::DaemonApi(VmRegistry& registry, EventLog& events) : registry_(registry) {
  events.set_subscriber([this](const std::string& line) {
    if (!send_) return;
    // A copy: sending may drop a slow stream, which leaves the set.
    const std::set<http::ConnectionId> streams = event_streams_;
    for (http::ConnectionId stream : streams) send_(stream, line);
  });
}

http::Response DaemonApi::handle(const http::Request& request, http::ConnectionId connection) {
  try {
    return route(request, connection);
  } catch (const std::exception& error) {
    // A library's exception (JSON conversion, say) is a bad request's fault
    // far more often than ours; either way the daemon keeps serving.
    return error_response(400, std::string("cannot handle the request: ") + error.what());
  }
}

http::Response DaemonApi::route(const http::Request& request, http::ConnectionId connection) {
  const std::string& path = request.path;
  const std::string& method = request.method;
  if (path == "/" && method == "GET")
    return json_response(200, {{"name", "vmhived"}, {"version", kDaemonVersion}, {"vms", registry_.list().size()}});
  if (path == "/metrics" && method == "GET") {
    const auto as_text = [](std::string text) {
      http::Response response;
      response.content_type = "text/plain; version=0.0.4";
      response.body = std::move(text);
      return response;
    };
    auto now = registry_.metrics([this, connection, as_text](std::string text) {
      if (respond_) respond_(connection, as_text(std::move(text)));
    });
    return now ? as_text(std::move(*now)) : deferred();
  }
  if (path == "/events" && method == "GET") {
    event_streams_.insert(connection);
    http::Response response;
    response.content_type = "application/x-ndjson";
    response.stream = true;
    return response;
  }
  if (path == "/vms") {
    if (method == "GET") {
      nlohmann::ordered_json list = nlohmann::ordered_json::array();
      const auto label = request.query.find("label");
      for (const VmRecord& record : registry_.list()) {
        if (label != request.query.end()) {
          const size_t equals = label->second.find('=');
          const std::string key = label->second.substr(0, equals);
          const auto found = record.spec.labels.find(key);
          if (found == record.spec.labels.end()) continue;
          if (equals != std::string::npos && found->second != label->second.substr(equals + 1)) continue;
        }
        list.push_back(summary_of(record));
      }
      return json_response(200, list);
    }
    if (method == "POST") {
      auto spec = config::vm_spec_from_json(request.body);
      if (!spec.ok()) return error_response(400, spec.error().message);
      auto created = registry_.create(std::move(*spec));
      if (!created.ok()) return failure(created.error());
      return json_response(201, record_to_json(*created));
    }
    return error_response(405, method + " is not allowed on /vms");
  }
  if (path == "/snapshots/restore" || path == "/snapshots/clone") {
    if (method != "POST") return error_response(405, method + " is not allowed on " + path);
    auto body = body_object(request);
    if (!body.ok()) return failure(body.error());
    return path == "/snapshots/restore" ? restore(*body) : clone(*body);
  }
  if (path == "/pools" || path.rfind("/pools/", 0) == 0) return pools(request);
  static constexpr std::string_view kVmsPrefix = "/vms/";
  if (path.rfind(kVmsPrefix, 0) == 0) {
    const std::string rest = path.substr(kVmsPrefix.size());
    const size_t slash = rest.find('/');
    const std::string name = rest.substr(0, slash);
    const std::string operation = slash == std::string::npos ? "" : rest.substr(slash + 1);
    if (auto named = config::check_name(name); !named.ok()) return error_response(400, named.error().message);
    return vm_operation(request, name, operation, connection);
  }
  return error_response(404, "no such resource: " + path);
}

http::Response DaemonApi::vm_operation(const http::Request& request, const std::string& name,
                                       const std::string& operation, http::ConnectionId connection) {
  const std::string& method = request.method;
  if (operation.empty()) {
    if (method == "GET") {
      auto inspected = registry_.inspect(name);
      return inspected.ok() ? json_response(200, *inspected) : failure(inspected.error());
    }
    if (method == "DELETE") {
      auto removed = registry_.remove(name, query_true(request, "force"));
      if (!removed.ok()) return failure(removed.error());
      http::Response response;
      response.status = 204;
      return response;
    }
    return error_response(405, method + " is not allowed on /vms/" + name);
  }
  if (operation == "stats") {
    if (method != "GET") return error_response(405, method + " is not allowed on " + request.path);
    auto asked = registry_.vm_stats(name, [this, connection](Result<nlohmann::json> stats) {
      if (respond_) respond_(connection, stats.ok() ? json_response(200, *stats) : failure(stats.error()));
    });
    if (!asked.ok()) return failure(asked.error());
    return *asked ? json_response(200, **asked) : deferred();
  }
  if (operation == "logs" || operation == "console") {
    auto record = registry_.find(name);
    if (!record.ok()) return failure(record.error());
    const std::string log = registry_.store().vm_file(name, "console.log");
    if (operation == "console" && method == "POST") {
      auto sent = registry_.console_input(name, request.body);
      return sent.ok() ? json_response(200, {{"sent", request.body.size()}}) : failure(sent.error());
    }
    if (method != "GET") return error_response(405, method + " is not allowed on " + request.path);
    if (operation == "logs") {
      size_t bytes = kDefaultLogBytes;
      if (const auto asked = request.query.find("bytes"); asked != request.query.end()) {
        const auto [end, error] = std::from_chars(asked->second.data(), asked->second.data() + asked->second.size(), bytes);
        if (error != std::errc() || end != asked->second.data() + asked->second.size() || bytes > (16u << 20))
          return error_response(400, "bytes: a number up to 16777216");
      }
      http::Response response;
      response.content_type = "text/plain; charset=utf-8";
      response.body = tail_of(log, bytes);
      return response;
    }
    struct stat info {};
    const uint64_t size = ::stat(log.c_str(), &info) == 0 ? static_cast<uint64_t>(info.st_size) : 0;
    const auto from = request.query.find("from");
    consoles_[connection] = ConsoleFollower{log, from != request.query.end() && from->second == "start" ? 0 : size};
    http::Response response;
    response.content_type = "application/octet-stream";
    response.stream = true;
    return response;
  }
  if (method != "POST") return error_response(405, method + " is not allowed on " + request.path);
  auto body = body_object(request);
  if (!body.ok()) return failure(body.error());
  if (operation == "start" || operation == "pause" || operation == "resume") {
    if (auto checked = only_members(*body, {}); !checked.ok()) return failure(checked.error());
    if (operation == "start") {
      auto started = registry_.start(name);
      return started.ok() ? json_response(200, summary_of(*started)) : failure(started.error());
    }
    // The VM answers through the daemon's loop; the client waits for it alone.
    auto answer = [this, connection](Result<VmRecord> done) {
      if (respond_) respond_(connection, done.ok() ? json_response(200, summary_of(*done)) : failure(done.error()));
    };
    auto asked = operation == "pause" ? registry_.pause(name, answer) : registry_.resume(name, answer);
    if (!asked.ok()) return failure(asked.error());
    if (*asked) return json_response(200, summary_of(**asked));
    return deferred();
  }
  if (operation == "stop") {
    if (auto checked = only_members(*body, {"force"}); !checked.ok()) return failure(checked.error());
    auto force = flag(*body, "force", false);
    if (!force.ok()) return failure(force.error());
    auto stopped = registry_.stop(name, *force);
    return stopped.ok() ? json_response(202, summary_of(*stopped)) : failure(stopped.error());
  }
  if (operation == "snapshot") {
    if (auto checked = only_members(*body, {"dir", "resume"}); !checked.ok()) return failure(checked.error());
    const auto dir = body->find("dir");
    if (dir == body->end() || !dir->is_string()) return error_response(400, "dir: a string (an absolute path) is needed");
    auto resume = flag(*body, "resume", true);
    if (!resume.ok()) return failure(resume.error());
    auto asked = registry_.snapshot(name, dir->get<std::string>(), *resume, [this, connection](Result<nlohmann::json> report) {
      if (respond_) respond_(connection, report.ok() ? json_response(200, *report) : failure(report.error()));
    });
    return asked.ok() ? deferred() : failure(asked.error());
  }
  return error_response(404, "no such operation: " + operation);
}

namespace {

// The members restore and clone share; a wrong type is a 400 naming the member.
Result<void> read_restore_members(const nlohmann::json& body, RestoreSource& source,
                                  std::map<std::string, std::string>& labels) {
  const auto snapshot = body.find("snapshot");
  if (snapshot == body.end() || !snapshot->is_string())
    return make_error(ErrorKind::kInvalid, "snapshot: a string (the snapshot directory's absolute path) is needed");
  source.snapshot_dir = snapshot->get<std::string>();
  if (const auto disks = body.find("disks"); disks != body.end()) {
    if (!disks->is_array()) return make_error(ErrorKind::kInvalid, "disks: an array of paths");
    for (const auto& disk : *disks) {
      if (!disk.is_string()) return make_error(ErrorKind::kInvalid, "disks: an array of paths");
      source.disks.push_back(disk.get<std::string>());
    }
  }
  if (const auto given = body.find("labels"); given != body.end()) {
    if (!given->is_object()) return make_error(ErrorKind::kInvalid, "labels: an object of strings");
    for (const auto& [key, value] : given->items()) {
      if (!value.is_string()) return make_error(ErrorKind::kInvalid, "labels: an object of strings");
      labels[key] = value.get<std::string>();
    }
  }
  return {};
}

}  // namespace

http::Response DaemonApi::restore(const nlohmann::json& body) {
  if (auto checked = only_members(body, {"name", "snapshot", "taps", "disks", "labels"}); !checked.ok())
    return failure(checked.error());
  const auto name = body.find("name");
  if (name == body.end() || !name->is_string()) return error_response(400, "name: a string is needed");
  RestoreSource source;
  std::map<std::string, std::string> labels;
  if (auto read = read_restore_members(body, source, labels); !read.ok()) return failure(read.error());
  if (const auto taps = body.find("taps"); taps != body.end()) {
    if (!taps->is_array()) return error_response(400, "taps: an array of tap names");
    for (const auto& tap : *taps) {
      if (!tap.is_string()) return error_response(400, "taps: an array of tap names");
      source.taps.push_back(tap.get<std::string>());
    }
  }
  auto restored = registry_.restore(name->get<std::string>(), std::move(source), std::move(labels));
  return restored.ok() ? json_response(201, record_to_json(*restored)) : failure(restored.error());
}

http::Response DaemonApi::clone(const nlohmann::json& body) {
  if (auto checked = only_members(body, {"snapshot", "count", "name_prefix", "tap_prefix", "disks", "labels"});
      !checked.ok())
    return failure(checked.error());
  const auto count = body.find("count");
  if (count == body.end() || !count->is_number_unsigned() || count->get<uint64_t>() < 1 ||
      count->get<uint64_t>() > kMaxClonesPerRequest)
    return error_response(400, "count: a number from 1 to " + std::to_string(kMaxClonesPerRequest));
  const auto prefix = body.find("name_prefix");
  if (prefix == body.end() || !prefix->is_string()) return error_response(400, "name_prefix: a string is needed");
  std::string tap_prefix;
  if (const auto taps = body.find("tap_prefix"); taps != body.end()) {
    if (!taps->is_string()) return error_response(400, "tap_prefix: a string");
    tap_prefix = taps->get<std::string>();
  }
  RestoreSource shared;
  std::map<std::string, std::string> labels;
  if (auto read = read_restore_members(body, shared, labels); !read.ok()) return failure(read.error());
  nlohmann::ordered_json clones = nlohmann::ordered_json::array();
  for (uint64_t index = 0; index < count->get<uint64_t>(); ++index) {
    RestoreSource source = shared;
    if (!tap_prefix.empty()) source.taps = {tap_prefix + std::to_string(index)};
    const std::string name = prefix->get<std::string>() + "-" + std::to_string(index);
    auto restored = registry_.restore(name, std::move(source), labels);
    if (!restored.ok()) {
      // The clones made so far stay (each is in the list and the events).
      return error_response(status_for(restored.error()),
                            "clone " + name + ": " + restored.error().message + " (" + std::to_string(index) +
                                " made before it)");
    }
    clones.push_back(summary_of(*restored));
  }
  return json_response(201, clones);
}

// GET /pools; GET, PUT and DELETE /pools/{name}.
http::Response DaemonApi::pools(const http::Request& request) {
  const std::string& method = request.method;
  if (request.path == "/pools") {
    if (method != "GET") return error_response(405, method + " is not allowed on /pools");
    return json_response(200, registry_.describe_pools());
  }
  const std::string name = request.path.substr(std::string_view("/pools/").size());
  if (auto named = config::check_name(name); !named.ok()) return error_response(400, named.error().message);
  if (method == "GET") {
    auto described = registry_.describe_pool(name);
    return described.ok() ? json_response(200, *described) : failure(described.error());
  }
  if (method == "DELETE") {
    if (auto removed = registry_.remove_pool(name); !removed.ok()) return failure(removed.error());
    http::Response response;
    response.status = 204;
    return response;
  }
  if (method != "PUT") return error_response(405, method + " is not allowed on " + request.path);
  auto body = body_object(request);
  if (!body.ok()) return failure(body.error());
  if (const auto given = body->find("name"); given != body->end() && (!given->is_string() || *given != name))
    return error_response(400, "name: the body names another pool than the path");
  (*body)["name"] = name;
  auto spec = pool_spec_from_json(*body);
  if (!spec.ok()) return failure(spec.error());
  auto set = registry_.put_pool(std::move(*spec));
  return set.ok() ? json_response(201, *set) : failure(set.error());
}

void DaemonApi::stream_closed(http::ConnectionId connection) {
  event_streams_.erase(connection);
  consoles_.erase(connection);
}

int DaemonApi::pump_consoles() {
  if (consoles_.empty()) return -1;
  std::vector<http::ConnectionId> followers;
  for (const auto& [connection, follower] : consoles_) followers.push_back(connection);
  for (http::ConnectionId connection : followers) {
    const auto found = consoles_.find(connection);  // sending may have dropped an earlier one
    if (found == consoles_.end()) continue;
    ConsoleFollower& follower = found->second;
    UniqueFd file(::open(follower.path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!file.valid()) continue;
    std::string chunk(kMaxConsoleChunk, '\0');
    const ssize_t got = ::pread(file.get(), chunk.data(), chunk.size(), static_cast<off_t>(follower.offset));
    if (got <= 0) continue;
    chunk.resize(static_cast<size_t>(got));
    follower.offset += static_cast<uint64_t>(got);
    if (send_) send_(connection, chunk);
  }
  return kConsolePollMs;
}

}  // namespace vmhive::daemon
