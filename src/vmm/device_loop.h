// The thread device work runs on, off the vCPU threads: an epoll loop over
// eventfds (queue doorbells from KVM ioeventfds, later backends such as taps).
// Watches are added before start(); the destructor stops and joins it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace vmhive {

class DeviceLoop {
 public:
  static Result<std::unique_ptr<DeviceLoop>> create();
  DeviceLoop(const DeviceLoop&) = delete;
  DeviceLoop& operator=(const DeviceLoop&) = delete;
  ~DeviceLoop();

  // Calls `on_ready` on the loop thread whenever `fd` is readable. For an
  // eventfd the loop reads (clears) it first. `fd` must outlive the loop.
  Result<void> watch_eventfd(int fd, std::function<void()> on_ready);
  // Calls `on_ready` when `fd` (a tap) becomes readable, edge-triggered: the
  // callback reads what it can use, and is called again for new data.
  Result<void> watch_edge(int fd, std::function<void()> on_ready);

  // Busy-polling after activity: for `window` after the last event or
  // served request, the loop calls every `poll` (true: it found work) instead
  // of sleeping, so a driver that issues its next request right away is
  // served without a wake-up (and, with notifications off, without ringing).
  // When the window passes with nothing to do, each `stop` runs once and the
  // loop sleeps. A zero window turns polling off.
  void set_poll_window(std::chrono::microseconds window) { poll_window_ = window; }
  Result<void> add_poller(std::function<bool()> poll, std::function<void()> stop);
  // Starts the thread; `confine` (if given) runs first on it, and start()
  // fails, with the thread gone, if it did.
  Result<void> start(const std::function<Result<void>()>& confine = {});

  // Parks the thread between events and returns once it is parked (or at
  // once if it never started): no callback runs, so no device touches guest
  // memory or a backend until resume(). For snapshots, with the vCPUs paused
  // too. Doorbells and backend data that arrive meanwhile wait in their fds.
  Result<void> pause();
  void resume();

 private:
  DeviceLoop(UniqueFd epoll, UniqueFd stop, UniqueFd pause)
      : epoll_(std::move(epoll)), stop_(std::move(stop)), pause_(std::move(pause)) {}
  void park_while_paused();
  void run();

  struct Watch {
    int fd;
    std::function<void()> on_ready;
    bool is_eventfd;
  };
  Result<void> add_watch(int fd, std::function<void()> on_ready, bool is_eventfd);

  UniqueFd epoll_;
  UniqueFd stop_;
  UniqueFd pause_;  // written by pause(): wakes the thread so that it parks
  std::mutex pause_lock_;
  std::condition_variable pause_changed_;
  bool pause_requested_ = false;
  bool parked_ = false;
  struct Poller {
    std::function<bool()> poll;
    std::function<void()> stop;
  };

  std::vector<std::unique_ptr<Watch>> watches_;
  std::vector<Poller> pollers_;
  std::chrono::microseconds poll_window_{0};
  std::thread thread_;
};

}  // namespace vmhive
