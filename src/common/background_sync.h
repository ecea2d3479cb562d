// Durability off the caller's path: fsync of files and directories the
// caller wrote (atomically, unsynced) and hands over, done in order on one
// helper thread. A service answering requests uses it so that a request
// waits for its writes to reach the page cache, not the disk: after a
// power loss within moments of the answer, what it wrote may be missing or
// empty (readers must refuse it cleanly), but never torn.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/unique_fd.h"

namespace vmhive {

class BackgroundSync {
 public:
  BackgroundSync();
  BackgroundSync(const BackgroundSync&) = delete;
  BackgroundSync& operator=(const BackgroundSync&) = delete;
  ~BackgroundSync();  // syncs what was handed over, then stops

  // fsyncs `fds` in their order (files before the directory naming them);
  // `what` names them in a failure's message.
  void sync_later(std::vector<UniqueFd> fds, std::string what);
  // Waits until everything handed over so far is synced.
  void drain();
  // Syncs that failed so far; the caller reports them.
  struct Failure {
    std::string what;
    std::string reason;
  };
  std::vector<Failure> take_failures();

 private:
  struct Batch {
    std::vector<UniqueFd> fds;
    std::string what;
  };
  void run(std::stop_token stop);

  std::mutex mutex_;
  std::condition_variable_any changed_;
  std::deque<Batch> queue_;
  uint64_t handed_ = 0;  // batches handed over
  uint64_t synced_ = 0;  // batches done
  std::vector<Failure> failures_;
  std::jthread thread_;  // declared last: started once the rest exists
};

}  // namespace vmhive
