#include "daemon/farm_supervisor.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "common/errno_error.h"
#include "common/fd_io.h"

namespace vmhive::daemon {
namespace {

// Events the daemon's own log keeps (the rest go only to the farm's followers).
bool logged(const std::string& type) {
  return type == "ready" || type == "breach" || type == "forensics" || type == "stopped" ||
         type == "alert_undelivered" || type == "clone_failed";
}

}  // namespace

Result<FarmSupervisor> FarmSupervisor::start(const std::string& config_path, const std::string& vmhive_binary,
                                             EventLog& events) {
  // Read once here and handed to the farm on its stdin: what was checked is what runs.
  UniqueFd file(::open(config_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!file.valid()) return errno_error("--farm", config_path);
  const std::vector<uint8_t> text = VMHIVE_TRY(read_to_end(file.get(), farm::FarmConfig::kMaxConfigBytes + 1));
  const std::string_view json(reinterpret_cast<const char*>(text.data()), text.size());
  auto config = farm::farm_config_from_json(json);
  if (!config.ok()) return with_context("--farm " + config_path, config.error());
  int input[2], output[2];
  if (::pipe2(input, O_CLOEXEC) != 0) return errno_error("pipe2 failed");
  UniqueFd input_read(input[0]), input_write(input[1]);
  if (::pipe2(output, O_CLOEXEC) != 0) return errno_error("pipe2 failed");
  UniqueFd output_read(output[0]), output_write(output[1]);
  if (text.size() > 64 * 1024) return make_error("--farm: the configuration is larger than a pipe holds");
  VMHIVE_CHECK(write_fully(input_write.get(), json));  // a pipe holds 64 KiB: it fits before the farm reads
  input_write.reset();
  auto process = clones::ChildProcess::spawn(clones::SpawnOptions{
      .argv = {vmhive_binary, "farm", "/dev/stdin", "--exit-with-parent"}, .stdin_fd = input_read.get(), .stdout_fd = output_write.get()});
  if (!process.ok()) return with_context("--farm", process.error());
  output_write.reset();
  const int flags = ::fcntl(output_read.get(), F_GETFL);
  if (flags < 0 || ::fcntl(output_read.get(), F_SETFL, flags | O_NONBLOCK) != 0) return errno_error("fcntl failed");
  events.record("", "farm_started", {{"config", config_path}, {"pid", process->pid()}});
  return FarmSupervisor(std::move(*config), std::move(*process), std::move(output_read), events);
}

FarmSupervisor::~FarmSupervisor() {
  if (reaped_ || process_.pid() <= 0) return;
  (void)process_.kill(SIGTERM);
  // It ends its clones and prints its counters: take them while it does.
  if (output_.valid()) {
    const int flags = ::fcntl(output_.get(), F_GETFL);
    if (flags >= 0) (void)::fcntl(output_.get(), F_SETFL, flags & ~O_NONBLOCK);
    take_lines();
  }
  (void)process_.wait();
}

void FarmSupervisor::add_poll_fds(std::vector<pollfd>& fds) const {
  fds.push_back({output_.valid() ? output_.get() : -1, POLLIN, 0});
}

void FarmSupervisor::after_poll(std::span<const pollfd> fds) {
  if (fds.empty() || fds[0].revents == 0) return;
  take_lines();
  if (output_.valid() || reaped_) return;
  // Its stdout closed: it ended (or is ending).
  auto status = process_.wait();
  reaped_ = true;
  view_.set_state("exited");
  events_->record("", "farm_exited",
                  {{"exit_code", status.ok() ? status->code : -1}, {"signal", status.ok() ? status->signal : 0}});
}

void FarmSupervisor::take_lines() {
  char buffer[16384];
  for (;;) {
    const ssize_t got = ::read(output_.get(), buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return;  // EAGAIN: all taken for now
    if (got == 0) {
      output_.reset();
      return;
    }
    partial_.append(buffer, static_cast<size_t>(got));
    size_t start = 0;
    for (size_t end = partial_.find('\n'); end != std::string::npos; end = partial_.find('\n', start)) {
      const std::string_view line(partial_.data() + start, end - start);
      start = end + 1;
      auto event = view_.apply(line);
      if (!event) continue;
      if (subscriber_) subscriber_(*event);
      auto parsed = nlohmann::ordered_json::parse(*event);
      const std::string type = parsed["event"].get<std::string>();
      if (logged(type)) {
        parsed.erase("event");
        events_->record("", "farm_" + type, std::move(parsed));
      }
    }
    partial_.erase(0, start);
    if (partial_.size() > FarmView::kMaxLine) partial_.clear();  // a line without end: dropped
  }
}

}  // namespace vmhive::daemon
