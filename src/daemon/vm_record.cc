#include "daemon/vm_record.h"

#include <chrono>

#include "config/vm_spec_json.h"

namespace vmhive::daemon {
namespace {

constexpr std::pair<VmPhase, const char*> kPhaseNames[] = {
    {VmPhase::kCreated, "created"}, {VmPhase::kRunning, "running"}, {VmPhase::kPaused, "paused"},
    {VmPhase::kStopping, "stopping"}, {VmPhase::kExited, "exited"}};

template <typename T>
Result<T> member(const nlohmann::json& object, const char* name) {
  const auto found = object.find(name);
  if (found == object.end()) return make_error(std::string("vm record: missing \"") + name + "\"");
  try {
    return found->get<T>();
  } catch (const nlohmann::json::exception&) {
    return make_error(std::string("vm record: \"") + name + "\" has the wrong type");
  }
}

template <typename T>
std::optional<T> optional_member(const nlohmann::json& object, const char* name) {
  const auto found = object.find(name);
  if (found == object.end() || found->is_null()) return std::nullopt;
  try {
    return found->get<T>();
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

}  // namespace

const char* phase_name(VmPhase phase) {
  for (const auto& [value, name] : kPhaseNames)
    if (value == phase) return name;
  return "unknown";
}

std::optional<VmPhase> phase_from_name(std::string_view name) {
  for (const auto& [value, text] : kPhaseNames)
    if (name == text) return value;
  return std::nullopt;
}

int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

nlohmann::ordered_json record_to_json(const VmRecord& record) {
  nlohmann::ordered_json document{{"name", record.name},
                                  {"phase", phase_name(record.phase)},
                                  {"pid", record.pid},
                                  {"pid_start_ticks", record.pid_start_ticks},
                                  {"created_ms", record.created_ms},
                                  {"started_ms", record.started_ms},
                                  {"starts", record.starts},
                                  {"config", config::vm_spec_to_json(record.spec)}};
  if (record.restore) {
    document["restore"] = {{"snapshot", record.restore->snapshot_dir},
                           {"taps", record.restore->taps},
                           {"disks", record.restore->disks}};
  }
  if (record.exit) {
    nlohmann::ordered_json exit{{"reason", record.exit->reason}, {"at_ms", record.exit->at_ms}};
    exit["status"] = record.exit->status ? nlohmann::ordered_json(*record.exit->status) : nullptr;
    exit["signal"] = record.exit->signal ? nlohmann::ordered_json(*record.exit->signal) : nullptr;
    exit["message"] = record.exit->message;
    document["exit"] = exit;
  }
  return document;
}

Result<VmRecord> record_from_json(const nlohmann::json& document) {
  if (!document.is_object()) return make_error("vm record: not a JSON object");
  VmRecord record;
  record.name = VMHIVE_TRY(member<std::string>(document, "name"));
  VMHIVE_CHECK(config::check_name(record.name));
  const auto phase = phase_from_name(VMHIVE_TRY(member<std::string>(document, "phase")));
  if (!phase) return make_error("vm record: unknown phase");
  record.phase = *phase;
  record.pid = VMHIVE_TRY(member<pid_t>(document, "pid"));
  record.pid_start_ticks = VMHIVE_TRY(member<uint64_t>(document, "pid_start_ticks"));
  record.created_ms = VMHIVE_TRY(member<int64_t>(document, "created_ms"));
  record.started_ms = VMHIVE_TRY(member<int64_t>(document, "started_ms"));
  record.starts = VMHIVE_TRY(member<uint32_t>(document, "starts"));
  const auto config = document.find("config");
  if (config == document.end()) return make_error("vm record: missing \"config\"");
  auto spec = config::vm_spec_from_document(*config);
  if (!spec.ok()) return with_context("vm record: config", spec.error());
  record.spec = std::move(*spec);
  if (const auto restore = document.find("restore"); restore != document.end()) {
    RestoreSource source;
    source.snapshot_dir = VMHIVE_TRY(member<std::string>(*restore, "snapshot"));
    source.taps = VMHIVE_TRY(member<std::vector<std::string>>(*restore, "taps"));
    source.disks = VMHIVE_TRY(member<std::vector<std::string>>(*restore, "disks"));
    record.restore = std::move(source);
  }
  if (const auto exit = document.find("exit"); exit != document.end() && exit->is_object()) {
    VmExit ended;
    ended.reason = optional_member<std::string>(*exit, "reason").value_or("unknown");
    ended.at_ms = optional_member<int64_t>(*exit, "at_ms").value_or(0);
    ended.status = optional_member<int>(*exit, "status");
    ended.signal = optional_member<int>(*exit, "signal");
    ended.message = optional_member<std::string>(*exit, "message").value_or("");
    record.exit = ended;
  }
  return record;
}

}  // namespace vmhive::daemon
