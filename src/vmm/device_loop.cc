#include "vmm/device_loop.h"

#include <pthread.h>

#include <future>
#include "common/errno_error.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace vmhive {

Result<std::unique_ptr<DeviceLoop>> DeviceLoop::create() {
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll.valid()) return errno_error("epoll_create1 failed");
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop.valid()) return errno_error("eventfd failed");
  UniqueFd pause(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!pause.valid()) return errno_error("eventfd failed");
  std::unique_ptr<DeviceLoop> loop(new DeviceLoop(std::move(epoll), std::move(stop), std::move(pause)));
  // The stop and pause fds carry a null pointer and the loop itself.
  for (auto [fd, marker] : {std::pair{loop->stop_.get(), static_cast<void*>(nullptr)},
                            std::pair{loop->pause_.get(), static_cast<void*>(loop.get())}}) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.ptr = marker;
    if (::epoll_ctl(loop->epoll_.get(), EPOLL_CTL_ADD, fd, &event) < 0) {
      return errno_error("epoll_ctl failed");
    }
  }
  return loop;
}

DeviceLoop::~DeviceLoop() {
  resume();
  if (thread_.joinable()) {
    const uint64_t one = 1;
    (void)!::write(stop_.get(), &one, sizeof one);
    thread_.join();
  }
}

Result<void> DeviceLoop::watch_eventfd(int fd, std::function<void()> on_ready) {
  return add_watch(fd, std::move(on_ready), true);
}

Result<void> DeviceLoop::watch_edge(int fd, std::function<void()> on_ready) {
  return add_watch(fd, std::move(on_ready), false);
}

Result<void> DeviceLoop::add_watch(int fd, std::function<void()> on_ready, bool is_eventfd) {
  if (thread_.joinable()) return make_error("device loop: watches must be added before it starts");
  auto watch = std::make_unique<Watch>(Watch{fd, std::move(on_ready), is_eventfd});
  epoll_event event{};
  event.events = is_eventfd ? EPOLLIN : (EPOLLIN | EPOLLET);
  event.data.ptr = watch.get();
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) < 0) {
    return errno_error("epoll_ctl failed");
  }
  watches_.push_back(std::move(watch));
  return {};
}

Result<void> DeviceLoop::add_poller(std::function<bool()> poll, std::function<void()> stop) {
  if (thread_.joinable()) return make_error("device loop: pollers must be added before it starts");
  pollers_.push_back(Poller{std::move(poll), std::move(stop)});
  return {};
}

Result<void> DeviceLoop::start(const std::function<Result<void>()>& confine) {
  std::promise<Result<void>> confined;
  std::future<Result<void>> outcome = confined.get_future();
  try {
    thread_ = std::thread([this, &confine, &confined] {
      Result<void> result = confine ? confine() : Result<void>();
      const bool ok = result.ok();
      confined.set_value(std::move(result));
      if (ok) run();
    });
  } catch (const std::system_error& error) {
    return make_error(std::string("cannot start the device thread: ") + error.what());
  }
  ::pthread_setname_np(thread_.native_handle(), "devices");
  Result<void> result = outcome.get();
  if (!result.ok()) {
    thread_.join();
    return with_context("the device thread", result.error());
  }
  return {};
}

Result<void> DeviceLoop::pause() {
  std::unique_lock guard(pause_lock_);
  pause_requested_ = true;
  if (!thread_.joinable()) return {};
  const uint64_t one = 1;
  (void)!::write(pause_.get(), &one, sizeof one);
  if (!pause_changed_.wait_for(guard, std::chrono::seconds(10), [this] { return parked_; })) {
    pause_requested_ = false;
    return make_error("the device thread did not pause within 10 s");
  }
  return {};
}

void DeviceLoop::resume() {
  std::lock_guard guard(pause_lock_);
  pause_requested_ = false;
  pause_changed_.notify_all();
}

void DeviceLoop::park_while_paused() {
  uint64_t counter;
  (void)!::read(pause_.get(), &counter, sizeof counter);
  std::unique_lock guard(pause_lock_);
  if (!pause_requested_) return;
  parked_ = true;
  pause_changed_.notify_all();
  pause_changed_.wait(guard, [this] { return !pause_requested_; });
  parked_ = false;
}

void DeviceLoop::run() {
  using Clock = std::chrono::steady_clock;
  const bool can_poll = poll_window_.count() > 0 && !pollers_.empty();
  bool polling = false;
  Clock::time_point last_work;
  epoll_event events[16];
  park_while_paused();  // paused before it started
  for (;;) {
    const int count = ::epoll_wait(epoll_.get(), events, 16, polling ? 0 : -1);
    if (count < 0) {
      if (errno == EINTR) continue;
      return;
    }
    bool pause_seen = false;
    for (int i = 0; i < count; ++i) {
      if (events[i].data.ptr == this) {
        pause_seen = true;  // parks after this batch
        continue;
      }
      auto* watch = static_cast<Watch*>(events[i].data.ptr);
      if (watch == nullptr) return;  // stop
      if (watch->is_eventfd) {
        uint64_t counter;
        (void)!::read(watch->fd, &counter, sizeof counter);
      }
      watch->on_ready();
    }
    if (can_poll) {
      bool worked = count > 0;
      if (polling || worked) {
        for (auto& poller : pollers_) worked = poller.poll() || worked;
      }
      const auto now = Clock::now();
      if (worked) {
        last_work = now;
        polling = true;
      } else if (polling && now - last_work > poll_window_) {
        for (auto& poller : pollers_) poller.stop();
        polling = false;
      }
    }
    if (pause_seen) park_while_paused();
  }
}

}  // namespace vmhive
