#include "vm_process.h"

#include <sched.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace vmhive::testing {
namespace {

using Clock = std::chrono::steady_clock;

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

std::optional<int> decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return std::nullopt;
}

}  // namespace

std::string vmhive_binary() { return VMHIVE_BINARY; }
std::string vmhived_binary() { return VMHIVED_BINARY; }
std::string guest_path(const std::string& name) { return std::string(VMHIVE_GUEST_DIR) + "/" + name + ".elf"; }
std::string linux_guest_dir() { return VMHIVE_LINUX_GUEST_DIR; }

bool kvm_available() {
  int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

VmProcess VmProcess::start(const std::vector<std::string>& args, const std::string& netns) {
  return start_program(vmhive_binary(), args, netns);
}

VmProcess VmProcess::start_program(const std::string& binary, const std::vector<std::string>& args,
                                   const std::string& netns) {
  return launch(binary, args, netns, {});
}

VmProcess VmProcess::start_with_fds(const std::vector<std::string>& args, const std::vector<int>& fds) {
  return launch(vmhive_binary(), args, {}, fds);
}

VmProcess VmProcess::launch(const std::string& binary, const std::vector<std::string>& args, const std::string& netns,
                            const std::vector<int>& fds) {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  std::vector<std::string> argv_strings = {binary};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : argv_strings) argv.push_back(arg.data());
  argv.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(in[0], STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    // gtest may block signals in its threads; the VMM expects defaults.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (!netns.empty()) {
      const int ns = ::open(("/var/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
      if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) ::_exit(126);
    }
    // Out of the way first (a source may sit where another goes), then down
    // to 3, 4, ...; no allocation between fork and exec.
    int high[16];
    const size_t count = fds.size() < 16 ? fds.size() : 16;
    for (size_t i = 0; i < count; ++i) high[i] = ::fcntl(fds[i], F_DUPFD_CLOEXEC, 1000);
    for (size_t i = 0; i < count; ++i)
      if (high[i] < 0 || ::dup2(high[i], 3 + static_cast<int>(i)) < 0) ::_exit(125);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  ::signal(SIGPIPE, SIG_IGN);
  return VmProcess(pid, in[1], out[0], err[0]);
}

VmProcess::VmProcess(VmProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      stdin_(std::exchange(other.stdin_, -1)),
      stdout_(std::exchange(other.stdout_, -1)),
      stderr_(std::exchange(other.stderr_, -1)),
      stdout_text_(std::move(other.stdout_text_)),
      stderr_text_(std::move(other.stderr_text_)),
      status_(other.status_) {}

VmProcess::~VmProcess() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
  }
  close_fd(stdin_);
  close_fd(stdout_);
  close_fd(stderr_);
}

void VmProcess::pump(std::chrono::milliseconds timeout) {
  pollfd fds[2] = {{stdout_, POLLIN, 0}, {stderr_, POLLIN, 0}};
  if (::poll(fds, 2, static_cast<int>(timeout.count())) <= 0) return;
  char buffer[4096];
  for (int i = 0; i < 2; ++i) {
    if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
    ssize_t count = ::read(fds[i].fd, buffer, sizeof buffer);
    if (count > 0) {
      (i == 0 ? stdout_text_ : stderr_text_).append(buffer, static_cast<size_t>(count));
    } else {
      close_fd(i == 0 ? stdout_ : stderr_);
    }
  }
}

bool VmProcess::wait_for_output(const std::string& text, std::chrono::milliseconds timeout) {
  return wait_for_output_after(0, text, timeout);
}

bool VmProcess::wait_for_output_after(size_t offset, const std::string& text, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (stdout_text_.size() < offset || stdout_text_.find(text, offset) == std::string::npos) {
    if (stdout_ < 0 && stderr_ < 0) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pump(std::min(left, std::chrono::milliseconds(100)));
  }
  return true;
}

void VmProcess::write_input(const std::string& bytes) {
  if (stdin_ >= 0) [[maybe_unused]] auto written = ::write(stdin_, bytes.data(), bytes.size());
}

void VmProcess::close_input() { close_fd(stdin_); }

void VmProcess::send_signal(int signal) {
  if (pid_ > 0 && !status_) ::kill(pid_, signal);
}

std::optional<int> VmProcess::wait(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!status_) {
    int status;
    pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      status_ = decode_status(status);
      break;
    }
    if (Clock::now() >= deadline) return std::nullopt;
    if (stdout_ >= 0 || stderr_ >= 0) {
      pump(std::chrono::milliseconds(20));
    } else {
      ::usleep(10000);
    }
  }
  while (stdout_ >= 0 || stderr_ >= 0) pump(std::chrono::milliseconds(100));  // drain what is left
  return status_;
}

RunResult run_vmhive(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  return run_program(vmhive_binary(), args, timeout);
}

RunResult run_program(const std::string& binary, const std::vector<std::string>& args,
                      std::chrono::milliseconds timeout) {
  VmProcess vm = VmProcess::start_program(binary, args);
  vm.close_input();
  RunResult result;
  result.status = vm.wait(timeout);
  result.output = vm.output();
  result.errors = vm.errors();
  return result;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    while (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

RunResult run_guest(const std::string& guest, std::vector<std::string> extra, std::chrono::milliseconds timeout) {
  std::vector<std::string> args = {"run", "--kernel", guest_path(guest)};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_vmhive(args, timeout);
}

bool has_line(const RunResult& result, const std::string& line) {
  for (const auto& each : lines_of(result.output)) {
    if (each == line) return true;
  }
  return false;
}

std::string describe(const RunResult& result) {
  return "status " + (result.status ? std::to_string(*result.status) : std::string("(timed out)")) +
         "\n--- console ---\n" + result.output + "\n--- stderr ---\n" + result.errors;
}

}  // namespace vmhive::testing
