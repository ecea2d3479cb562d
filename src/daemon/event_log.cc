#include "daemon/event_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errno_error.h"
#include "common/fd_io.h"
#include "daemon/vm_record.h"

namespace vmhive::daemon {
namespace {

constexpr char kLogName[] = "events.jsonl";
constexpr char kRotatedName[] = "events.jsonl.1";

UniqueFd open_log(int dir_fd) {
  return UniqueFd(::openat(dir_fd, kLogName, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
}

}  // namespace

Result<EventLog> EventLog::open(int dir_fd, uint64_t max_bytes) {
  UniqueFd file = open_log(dir_fd);
  if (!file.valid()) return errno_error("cannot open the event log", kLogName);
  struct stat info {};
  if (::fstat(file.get(), &info) != 0) return errno_error("cannot stat the event log", kLogName);
  if (!S_ISREG(info.st_mode)) return make_error(std::string("the event log ") + kLogName + " is not a regular file");
  return EventLog(dir_fd, std::move(file), static_cast<uint64_t>(info.st_size), max_bytes);
}

void EventLog::rotate() {
  if (::renameat(dir_fd_, kLogName, dir_fd_, kRotatedName) != 0) return;
  UniqueFd fresh = open_log(dir_fd_);
  if (!fresh.valid()) return;
  file_ = std::move(fresh);
  size_ = 0;
}

void EventLog::record(const std::string& vm, const std::string& type, nlohmann::ordered_json details) {
  nlohmann::ordered_json event{{"time_ms", wall_clock_ms()}, {"vm", vm}, {"type", type}};
  if (details.is_object())
    for (auto& [key, value] : details.items()) event[key] = value;
  const std::string line = event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (size_ + line.size() > max_bytes_) rotate();
  if (write_fully(file_.get(), line).ok()) size_ += line.size();
  if (subscriber_) subscriber_(line);
}

}  // namespace vmhive::daemon
