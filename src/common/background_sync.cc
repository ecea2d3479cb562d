#include "common/background_sync.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace vmhive {

BackgroundSync::BackgroundSync() : thread_([this](std::stop_token stop) { run(stop); }) {}

BackgroundSync::~BackgroundSync() {
  drain();
  thread_.request_stop();
  changed_.notify_all();
}

void BackgroundSync::sync_later(std::vector<UniqueFd> fds, std::string what) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(Batch{std::move(fds), std::move(what)});
    ++handed_;
  }
  changed_.notify_all();
}

void BackgroundSync::drain() {
  std::unique_lock lock(mutex_);
  const uint64_t target = handed_;
  changed_.wait(lock, [&] { return synced_ >= target; });
}

std::vector<BackgroundSync::Failure> BackgroundSync::take_failures() {
  std::lock_guard lock(mutex_);
  return std::exchange(failures_, {});
}

void BackgroundSync::run(std::stop_token stop) {
  std::unique_lock lock(mutex_);
  while (true) {
    changed_.wait(lock, stop, [this] { return !queue_.empty(); });
    if (queue_.empty()) return;  // asked to stop, and nothing is left
    Batch batch = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    std::string failure;
    for (const UniqueFd& fd : batch.fds) {
      if (::fsync(fd.get()) != 0 && failure.empty()) failure = std::string("fsync failed: ") + std::strerror(errno);
    }
    batch.fds.clear();
    lock.lock();
    if (!failure.empty()) failures_.push_back(Failure{std::move(batch.what), std::move(failure)});
    ++synced_;
    changed_.notify_all();
  }
}

}  // namespace vmhive
