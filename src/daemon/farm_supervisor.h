// The honeyfarm as a daemon component (`vmhived --farm CONFIG`): the daemon
// checks the farm's configuration, runs `vmhive farm CONFIG` as a child of
// its own, reads its event lines from a pipe in the daemon's poll loop, and
// keeps what they say in a FarmView. Every line also goes to whoever
// follows the farm (the dashboard's event stream); breaches, the farm's
// start and end go to the daemon's event log too. When the daemon stops,
// the farm is stopped (SIGTERM: it ends its clones and prints its counters).
#pragma once

#include <poll.h>

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "clones/child_process.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "daemon/event_log.h"
#include "daemon/farm_view.h"
#include "farm/farm_config.h"

namespace vmhive::daemon {

class FarmSupervisor {
 public:
  using LineSubscriber = std::function<void(const std::string& event_line)>;

  // Reads and checks `config_path` (as `vmhive farm` would) and starts the farm.
  static Result<FarmSupervisor> start(const std::string& config_path, const std::string& vmhive_binary,
                                      EventLog& events);
  FarmSupervisor(FarmSupervisor&&) = default;
  ~FarmSupervisor();  // stops the farm (SIGTERM, then reaps it)

  void add_poll_fds(std::vector<pollfd>& fds) const;
  // With the revents of the fds add_poll_fds added (in order).
  void after_poll(std::span<const pollfd> fds);
  void set_subscriber(LineSubscriber subscriber) { subscriber_ = std::move(subscriber); }

  const FarmView& view() const { return view_; }
  const farm::FarmConfig& config() const { return config_; }

 private:
  FarmSupervisor(farm::FarmConfig config, clones::ChildProcess process, UniqueFd output, EventLog& events)
      : config_(std::move(config)), process_(std::move(process)), output_(std::move(output)), events_(&events) {}
  void take_lines();

  farm::FarmConfig config_;
  clones::ChildProcess process_;
  UniqueFd output_;  // the read end of its stdout; invalid once it closed
  EventLog* events_;
  FarmView view_;
  std::string partial_;  // a line not yet ended
  LineSubscriber subscriber_;
  bool reaped_ = false;
};

}  // namespace vmhive::daemon
