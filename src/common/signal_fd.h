// Signals taken as file-descriptor events: block() blocks a set of signals in
// the calling thread (threads it starts later inherit the mask) and opens a
// signalfd for them; the old mask comes back when the SignalFd goes. A
// do-nothing handler stands in for a default disposition meanwhile: the
// kernel drops default-action signals sent to the first process of a PID
// namespace (a jailed VM), but queues handled ones for the signalfd.
#pragma once

#include <signal.h>

#include <initializer_list>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace vmhive {

class SignalFd {
 public:
  static Result<SignalFd> block(std::initializer_list<int> signals);
  SignalFd(SignalFd&& other) noexcept;
  SignalFd& operator=(SignalFd&&) = delete;
  SignalFd(const SignalFd&) = delete;
  SignalFd& operator=(const SignalFd&) = delete;
  ~SignalFd();

  int fd() const { return fd_.get(); }
  // The next pending signal's number, or 0 when none is waiting.
  int take() const;
  const sigset_t& signals() const { return set_; }
  // The mask before block(): what a child process should start with.
  const sigset_t& previous_mask() const { return previous_; }

 private:
  SignalFd(UniqueFd fd, const sigset_t& set, const sigset_t& previous) : fd_(std::move(fd)), set_(set), previous_(previous) {}
  UniqueFd fd_;
  sigset_t set_;
  sigset_t previous_;
  std::vector<std::pair<int, struct sigaction>> previous_actions_;
};

}  // namespace vmhive
