#include "common/signal_fd.h"

#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/errno_error.h"

namespace vmhive {

namespace {

void do_nothing(int) {}

}  // namespace

Result<SignalFd> SignalFd::block(std::initializer_list<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int signal : signals) sigaddset(&set, signal);
  sigset_t previous;
  if (const int error = ::pthread_sigmask(SIG_BLOCK, &set, &previous); error != 0)
    return error_from_code(error, "cannot block signals");
  UniqueFd fd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!fd.valid()) {
    Error error = errno_error("signalfd failed");
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    return error;
  }
  SignalFd result(std::move(fd), set, previous);
  for (int signal : signals) {
    struct sigaction current {};
    if (::sigaction(signal, nullptr, &current) != 0 || current.sa_handler != SIG_DFL) continue;
    struct sigaction handled {};
    handled.sa_handler = do_nothing;
    sigemptyset(&handled.sa_mask);
    if (::sigaction(signal, &handled, nullptr) == 0) result.previous_actions_.emplace_back(signal, current);
  }
  return result;
}

SignalFd::SignalFd(SignalFd&& other) noexcept
    : fd_(std::move(other.fd_)),
      set_(other.set_),
      previous_(other.previous_),
      previous_actions_(std::exchange(other.previous_actions_, {})) {}

SignalFd::~SignalFd() {
  if (!fd_.valid()) return;
  for (const auto& [signal, action] : previous_actions_) ::sigaction(signal, &action, nullptr);
  ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
}

int SignalFd::take() const {
  signalfd_siginfo info{};
  return ::read(fd_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info) ? static_cast<int>(info.ssi_signo)
                                                                                    : 0;
}

}  // namespace vmhive
