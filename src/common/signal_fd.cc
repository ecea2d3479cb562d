#include "common/signal_fd.h"

#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/errno_error.h"

namespace vmhive {

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
  return SignalFd(std::move(fd), set, previous);
}

SignalFd::SignalFd(SignalFd&& other) noexcept : fd_(std::move(other.fd_)), set_(other.set_), previous_(other.previous_) {}

SignalFd::~SignalFd() {
  if (fd_.valid()) ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
}

int SignalFd::take() const {
  signalfd_siginfo info{};
  return ::read(fd_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info) ? static_cast<int>(info.ssi_signo)
                                                                                    : 0;
}

}  // namespace vmhive
