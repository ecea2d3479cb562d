#include "cli/daemon_commands.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "http/http_client.h"

namespace vmhive::cli {

struct DaemonCommandOptions {
  std::string socket = kDefaultDaemonSocket;
  bool json = false;
  bool force = false;
  bool create_and_start = false;
  std::string config_file;
  std::string label;
  std::vector<std::string> names;
  size_t bytes = 64 * 1024;
  bool from_start = false;
  std::vector<CLI::App*> commands;
  CLI::App* ps = nullptr;
  CLI::App* create = nullptr;
  CLI::App* logs = nullptr;
  CLI::App* console = nullptr;
  CLI::App* stats = nullptr;
  CLI::App* events = nullptr;
  CLI::App* inspect = nullptr;
  CLI::App* rm = nullptr;
  CLI::App* stop = nullptr;
  CLI::App* pool = nullptr;
  CLI::App* pool_set = nullptr;
  CLI::App* pool_ls = nullptr;
  CLI::App* pool_rm = nullptr;
  std::string pool_name;
  std::string pool_snapshot;
  unsigned pool_size = 1;
  std::vector<std::string> pool_disks;
};

namespace {

using nlohmann::json;

std::string percent_encode(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string encoded;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '=') {
      encoded += static_cast<char>(c);
    } else {
      encoded += '%';
      encoded += kHex[c >> 4];
      encoded += kHex[c & 15];
    }
  }
  return encoded;
}

int complain(const std::string& message, int status) {
  std::fprintf(stderr, "vmhive: %s\n", message.c_str());
  return status;
}

// One request; the body of a 2xx answer, or the exit status after saying why not.
struct Answer {
  int exit_status = daemon_exit::kDone;
  http::ClientResponse response;
};

Answer ask(const DaemonCommandOptions& options, const std::string& method, const std::string& target,
           const std::string& body = {}) {
  http::ClientRequest request;
  request.method = method;
  request.target = target;
  request.body = body;
  auto response = http::send_request(options.socket, request);
  if (!response.ok())
    return {complain(response.error().message + " (is vmhived running? --daemon SOCKET)", daemon_exit::kUnreachable),
            {}};
  if (response->status >= 200 && response->status < 300) return {daemon_exit::kDone, *response};
  const json error = json::parse(response->body, nullptr, false);
  const std::string message =
      error.is_object() && error.contains("error") && error["error"].is_string() ? error["error"].get<std::string>()
                                                                                 : response->body;
  return {complain(message, response->status == 404 ? daemon_exit::kNoSuchVm : daemon_exit::kRefused), *response};
}

std::string age(int64_t since_ms) {
  if (since_ms <= 0) return "-";
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  const int64_t seconds = (now_ms - since_ms) / 1000;
  if (seconds < 120) return std::to_string(seconds) + "s";
  if (seconds < 7200) return std::to_string(seconds / 60) + "m";
  if (seconds < 172800) return std::to_string(seconds / 3600) + "h";
  return std::to_string(seconds / 86400) + "d";
}

std::string text_of(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "-";
  return value.dump();
}

int ps_command(const DaemonCommandOptions& options) {
  const std::string target = options.label.empty() ? "/vms" : "/vms?label=" + percent_encode(options.label);
  Answer answer = ask(options, "GET", target);
  if (answer.exit_status != 0) return answer.exit_status;
  const json list = json::parse(answer.response.body, nullptr, false);
  if (options.json) {
    std::printf("%s\n", list.dump(2).c_str());
    return 0;
  }
  std::printf("%-24s %-9s %-8s %-5s %-7s %-7s %s\n", "NAME", "PHASE", "PID", "VCPUS", "MEMORY", "UP", "LABELS");
  if (!list.is_array()) return 0;
  for (const json& vm : list) {
    std::string labels;
    if (vm.contains("labels") && vm["labels"].is_object())
      for (const auto& [key, value] : vm["labels"].items()) labels += (labels.empty() ? "" : ",") + key + "=" + text_of(value);
    const std::string phase = text_of(vm.value("phase", json()));
    const bool up = phase == "running" || phase == "paused" || phase == "stopping";
    std::printf("%-24s %-9s %-8s %-5s %-7s %-7s %s\n", text_of(vm.value("name", json())).c_str(), phase.c_str(),
                up ? text_of(vm.value("pid", json())).c_str() : "-", text_of(vm.value("vcpus", json())).c_str(),
                text_of(vm.value("memory", json())).c_str(),
                up ? age(vm.value("started_ms", int64_t{0})).c_str() : "-", labels.c_str());
  }
  return 0;
}

int create_command(const DaemonCommandOptions& options) {
  std::string text;
  if (options.config_file == "-") {
    std::ostringstream input;
    input << std::cin.rdbuf();
    text = input.str();
  } else {
    std::ifstream file(options.config_file, std::ios::binary);
    if (!file) return complain("-f " + options.config_file + ": cannot read it", daemon_exit::kUsage);
    std::ostringstream input;
    input << file.rdbuf();
    text = input.str();
  }
  Answer answer = ask(options, "POST", "/vms", text);
  if (answer.exit_status != 0) return answer.exit_status;
  const json created = json::parse(answer.response.body, nullptr, false);
  const std::string name = created.is_object() ? text_of(created.value("name", json())) : "";
  if (options.create_and_start) {
    Answer started = ask(options, "POST", "/vms/" + name + "/start");
    if (started.exit_status != 0) return started.exit_status;
  }
  if (options.json) {
    std::printf("%s\n", created.dump(2).c_str());
  } else {
    std::printf("%s\n", name.c_str());
  }
  return 0;
}

int each_vm(const DaemonCommandOptions& options, const std::string& method, const std::string& operation,
            const std::string& body = {}) {
  int status = 0;
  for (const std::string& name : options.names) {
    const std::string target = "/vms/" + percent_encode(name) + operation;
    Answer answer = ask(options, method, target, body);
    if (answer.exit_status != 0) {
      status = answer.exit_status;
      continue;
    }
    if (options.json && !answer.response.body.empty()) {
      std::printf("%s", answer.response.body.c_str());
    } else {
      std::printf("%s\n", name.c_str());
    }
  }
  return status;
}

int inspect_command(const DaemonCommandOptions& options) {
  int status = 0;
  for (const std::string& name : options.names) {
    Answer answer = ask(options, "GET", "/vms/" + percent_encode(name));
    if (answer.exit_status != 0) {
      status = answer.exit_status;
      continue;
    }
    std::printf("%s\n", json::parse(answer.response.body, nullptr, false).dump(2).c_str());
  }
  return status;
}

int stats_command(const DaemonCommandOptions& options) {
  std::vector<std::string> names = options.names;
  if (names.empty()) {
    Answer answer = ask(options, "GET", "/vms");
    if (answer.exit_status != 0) return answer.exit_status;
    const json list = json::parse(answer.response.body, nullptr, false);
    if (list.is_array())
      for (const json& vm : list) names.push_back(text_of(vm.value("name", json())));
  }
  json all = json::array();
  if (!options.json) std::printf("%-24s %-9s %10s %10s %10s %8s\n", "NAME", "PHASE", "CPU s", "VCPU s", "RSS MiB", "UP s");
  for (const std::string& name : names) {
    Answer answer = ask(options, "GET", "/vms/" + percent_encode(name));
    if (answer.exit_status != 0) return answer.exit_status;
    const json vm = json::parse(answer.response.body, nullptr, false);
    const json usage = vm.value("usage", json::object());
    if (options.json) {
      all.push_back({{"name", name}, {"phase", vm.value("phase", json())}, {"usage", usage},
                     {"uptime_s", vm.value("uptime_s", json())}});
      continue;
    }
    std::printf("%-24s %-9s %10.2f %10.2f %10.1f %8.0f\n", name.c_str(), text_of(vm.value("phase", json())).c_str(),
                usage.value("cpu_seconds", 0.0), usage.value("vcpu_seconds", 0.0),
                static_cast<double>(usage.value("resident_bytes", uint64_t{0})) / (1 << 20), vm.value("uptime_s", 0.0));
  }
  if (options.json) std::printf("%s\n", all.dump(2).c_str());
  return 0;
}

int logs_command(const DaemonCommandOptions& options) {
  Answer answer = ask(options, "GET", "/vms/" + percent_encode(options.names.at(0)) + "/logs?bytes=" +
                                          std::to_string(options.bytes));
  if (answer.exit_status != 0) return answer.exit_status;
  std::fwrite(answer.response.body.data(), 1, answer.response.body.size(), stdout);
  return 0;
}

// Follows a stream to stdout until the daemon ends it (or stdout goes away).
int follow(const DaemonCommandOptions& options, const std::string& target) {
  http::ClientRequest request;
  request.target = target;
  request.timeout = std::chrono::milliseconds(0);
  auto response = http::follow_stream(options.socket, request, [](std::string_view data) {
    const bool written = std::fwrite(data.data(), 1, data.size(), stdout) == data.size();
    std::fflush(stdout);
    return written;
  });
  if (!response.ok()) return complain(response.error().message, daemon_exit::kUnreachable);
  if (response->status >= 300) {
    const json error = json::parse(response->body, nullptr, false);
    return complain(error.is_object() ? text_of(error.value("error", json(response->body))) : response->body,
                    response->status == 404 ? daemon_exit::kNoSuchVm : daemon_exit::kRefused);
  }
  return 0;
}

int console_command(const DaemonCommandOptions& options) {
  const std::string vm = "/vms/" + percent_encode(options.names.at(0));
  // What the user types goes to the guest, a read at a time.
  std::thread input([&options, vm] {
    char buffer[4096];
    for (;;) {
      const ssize_t count = ::read(STDIN_FILENO, buffer, sizeof buffer);
      if (count <= 0) return;
      http::ClientRequest request;
      request.method = "POST";
      request.target = vm + "/console";
      request.body.assign(buffer, static_cast<size_t>(count));
      request.content_type = "application/octet-stream";
      (void)http::send_request(options.socket, request);
    }
  });
  input.detach();
  return follow(options, vm + "/console" + (options.from_start ? "?from=start" : ""));
}

// Absolute: the daemon's VM processes do not share our working directory.
std::string absolute_path(const std::string& path) {
  std::error_code error;
  const std::filesystem::path absolute = std::filesystem::absolute(path, error);
  return error ? path : absolute.lexically_normal().string();
}

// A body for the daemon; a path that is not UTF-8 cannot be one.
std::optional<std::string> dump_body(const json& body) {
  try {
    return body.dump();
  } catch (const json::type_error&) {
    return std::nullopt;
  }
}

void print_pools(const json& pools) {
  std::printf("%-20s %5s %5s %9s %6s %8s  %s\n", "POOL", "SIZE", "READY", "RESTORING", "TAKEN", "FAILURES", "SNAPSHOT");
  if (!pools.is_array()) return;
  for (const json& pool : pools)
    std::printf("%-20s %5s %5s %9s %6s %8s  %s\n", text_of(pool.value("name", json())).c_str(),
                text_of(pool.value("size", json())).c_str(), text_of(pool.value("ready", json())).c_str(),
                text_of(pool.value("restoring", json())).c_str(), text_of(pool.value("taken", json())).c_str(),
                text_of(pool.value("failures", json())).c_str(), text_of(pool.value("snapshot", json())).c_str());
}

int pool_command(const DaemonCommandOptions& options) {
  if (*options.pool_ls) {
    Answer answer = ask(options, "GET", "/pools");
    if (answer.exit_status != 0) return answer.exit_status;
    const json pools = json::parse(answer.response.body, nullptr, false);
    if (options.json) {
      std::printf("%s\n", pools.dump(2).c_str());
    } else {
      print_pools(pools);
    }
    return 0;
  }
  const std::string target = "/pools/" + percent_encode(options.pool_name);
  if (*options.pool_rm) return ask(options, "DELETE", target).exit_status;
  json body{{"snapshot", absolute_path(options.pool_snapshot)}, {"size", options.pool_size}};
  json disks = json::array();
  for (const std::string& disk : options.pool_disks) disks.push_back(absolute_path(disk));
  body["disks"] = disks;
  const auto text = dump_body(body);
  if (!text) return complain("pool: a path is not valid UTF-8", daemon_exit::kUsage);
  Answer answer = ask(options, "PUT", target, *text);
  if (answer.exit_status != 0) return answer.exit_status;
  const json pool = json::parse(answer.response.body, nullptr, false);
  if (options.json) {
    std::printf("%s\n", pool.dump(2).c_str());
  } else {
    print_pools(json::array({pool}));
  }
  return 0;
}

}  // namespace

int daemon_clone(const DaemonCloneRequest& request) {
  DaemonCommandOptions options;
  options.socket = request.socket;
  json body{{"snapshot", absolute_path(request.snapshot_dir)},
            {"count", request.count},
            {"name_prefix", request.name_prefix}};
  if (!request.tap_prefix.empty()) body["tap_prefix"] = request.tap_prefix;
  if (!request.disks.empty()) {
    json disks = json::array();
    for (const std::string& disk : request.disks) disks.push_back(absolute_path(disk));
    body["disks"] = disks;
  }
  const auto text = dump_body(body);
  if (!text) return complain("clone: a path is not valid UTF-8", daemon_exit::kUsage);
  Answer answer = ask(options, "POST", "/snapshots/clone", *text);
  if (answer.exit_status != 0) return answer.exit_status;
  const json clones = json::parse(answer.response.body, nullptr, false);
  if (request.json) {
    std::printf("%s\n", clones.dump(2).c_str());
    return 0;
  }
  std::printf("%-24s %-9s %s\n", "NAME", "PHASE", "PID");
  if (clones.is_array())
    for (const json& vm : clones)
      std::printf("%-24s %-9s %s\n", text_of(vm.value("name", json())).c_str(), text_of(vm.value("phase", json())).c_str(),
                  text_of(vm.value("pid", json())).c_str());
  return 0;
}

std::string default_daemon_socket() {
  const char* socket = std::getenv("VMHIVE_DAEMON_SOCKET");
  return socket != nullptr && *socket != '\0' ? socket : kDefaultDaemonSocket;
}

int daemon_snapshot(const std::string& socket, const std::string& name, const std::string& dir, bool stop) {
  DaemonCommandOptions options;
  options.socket = socket;
  std::error_code error;
  // Absolute: the daemon's VM process does not share our working directory.
  const std::filesystem::path absolute = std::filesystem::absolute(dir, error);
  json body{{"dir", error ? dir : absolute.string()}, {"resume", !stop}};
  std::string text;
  try {
    text = body.dump();
  } catch (const json::type_error&) {
    return complain("snapshot " + dir + ": the path is not valid UTF-8", daemon_exit::kUsage);
  }
  Answer answer = ask(options, "POST", "/vms/" + percent_encode(name) + "/snapshot", text);
  if (answer.exit_status != 0) return answer.exit_status;
  std::printf("%s", answer.response.body.c_str());
  return 0;
}

DaemonCommands::DaemonCommands(CLI::App& app) : options_(std::make_unique<DaemonCommandOptions>()) {
  DaemonCommandOptions& o = *options_;
  o.socket = default_daemon_socket();
  const auto command = [&](const char* name, const char* description) {
    CLI::App* sub = app.add_subcommand(name, description);
    sub->add_option("--daemon", o.socket, "vmhived's socket (default " + std::string(kDefaultDaemonSocket) +
                                              ", or $VMHIVE_DAEMON_SOCKET)");
    sub->add_flag("--json", o.json, "JSON for scripts instead of a table");
    o.commands.push_back(sub);
    return sub;
  };
  o.ps = command("ps", "list the daemon's VMs");
  o.ps->add_option("--label", o.label, "only VMs with this label (KEY or KEY=VALUE)");
  o.create = command("create", "create a VM from a JSON configuration (docs/vm-config.md)");
  o.create->add_option("-f,--file", o.config_file, "the configuration file (- for stdin)")->required();
  o.create->add_flag("--start", o.create_and_start, "start it as well");
  for (const char* name : {"start", "pause", "resume"})
    command(name, (std::string(name) + " VMs").c_str())->add_option("name", o.names, "VM names")->required();
  o.stop = command("stop", "stop VMs: the guest is asked first (its console), then the VMM ends it");
  o.stop->add_option("name", o.names, "VM names")->required();
  o.stop->add_flag("--force", o.force, "kill at once");
  o.rm = command("rm", "remove stopped VMs and everything the daemon kept of them");
  o.rm->add_option("name", o.names, "VM names")->required();
  o.rm->add_flag("--force", o.force, "kill a running VM first");
  o.inspect = command("inspect", "everything about VMs, as JSON");
  o.inspect->add_option("name", o.names, "VM names")->required();
  o.logs = command("logs", "the end of a VM's console log");
  o.logs->add_option("name", o.names, "VM name")->required()->expected(1);
  o.logs->add_option("--bytes", o.bytes, "how much of its end (default 65536)")->check(CLI::Range(1, 16 << 20));
  o.console = command("console", "follow a VM's console; what you type goes to the guest");
  o.console->add_option("name", o.names, "VM name")->required()->expected(1);
  o.console->add_flag("--from-start", o.from_start, "show the console log from its start first");
  o.stats = command("stats", "CPU time, vCPU time and memory of VMs (all by default)");
  o.stats->add_option("name", o.names, "VM names");
  o.events = command("events", "follow the daemon's events (JSON lines)");
  o.pool = command("pool", "ready pools: VMs of a snapshot kept restored, so that clones of it only start");
  o.pool->require_subcommand(1);
  o.pool->fallthrough();  // --daemon and --json after set, ls or rm as well
  o.pool_set = o.pool->add_subcommand("set", "keep SIZE VMs of SNAPSHOT ready (replaces a pool of that name)");
  o.pool_set->add_option("name", o.pool_name, "the pool's name")->required();
  o.pool_set->add_option("snapshot", o.pool_snapshot, "snapshot directory")->required();
  o.pool_set->add_option("--size", o.pool_size, "VMs kept ready (default 1)")->check(CLI::Range(1u, 256u));
  o.pool_set->add_option("--disk", o.pool_disks, "a read-only image the snapshot used in place; repeatable");
  o.pool_ls = o.pool->add_subcommand("ls", "list the pools");
  o.pool_rm = o.pool->add_subcommand("rm", "remove a pool; its held VMs end without running");
  o.pool_rm->add_option("name", o.pool_name, "the pool's name")->required();
}

DaemonCommands::~DaemonCommands() = default;

const std::vector<std::string>& DaemonCommands::names() {
  static const std::vector<std::string> kNames = {"ps",   "create",  "start", "pause",   "resume", "stop", "rm",
                                                  "inspect", "logs", "console", "stats", "events", "pool"};
  return kNames;
}

std::optional<int> DaemonCommands::run() const {
  const DaemonCommandOptions& o = *options_;
  for (CLI::App* sub : o.commands) {
    if (!*sub) continue;
    const std::string name = sub->get_name();
    if (sub == o.ps) return ps_command(o);
    if (sub == o.create) return create_command(o);
    if (sub == o.inspect) return inspect_command(o);
    if (sub == o.logs) return logs_command(o);
    if (sub == o.console) return console_command(o);
    if (sub == o.stats) return stats_command(o);
    if (sub == o.events) return follow(o, "/events");
    if (sub == o.pool) return pool_command(o);
    if (sub == o.rm) return each_vm(o, "DELETE", o.force ? "?force=true" : "");
    if (sub == o.stop) return each_vm(o, "POST", "/stop", o.force ? R"({"force":true})" : "");
    return each_vm(o, "POST", "/" + name);
  }
  return std::nullopt;
}

}  // namespace vmhive::cli
