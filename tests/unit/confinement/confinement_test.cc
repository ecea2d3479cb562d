// Confining a process, in forked children so the test runner stays free:
// after it no capability is left, no privilege can be gained, and a call
// outside a thread's allowlist stops the process with one line naming it,
// while allowed calls go on working.
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>

#include "confinement/process_hygiene.h"
#include "confinement/seccomp_filters.h"

namespace vmhive::confinement {
namespace {

struct ChildResult {
  int status = -1;    // exit status, or 128 + signal
  std::string errors;  // what it wrote to stderr
};

// Runs `body` in a child whose stderr is captured; its return value is the exit status.
ChildResult in_child(const std::function<int()>& body) {
  int pipe_fds[2];
  EXPECT_EQ(::pipe(pipe_fds), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    ::dup2(pipe_fds[1], STDERR_FILENO);
    ::close(pipe_fds[0]);
    ::_exit(body());
  }
  ::close(pipe_fds[1]);
  ChildResult result;
  char buffer[512];
  ssize_t got;
  while ((got = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0) result.errors.append(buffer, static_cast<size_t>(got));
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string status_line(const std::string& key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(key, 0) == 0) return line;
  return {};
}

TEST(Confinement, NoCapabilityAndNoNewPrivilegesAfterwards) {
  const auto result = in_child([] {
    if (!set_no_new_privs().ok() || !drop_capabilities().ok()) return 10;
    if (status_line("NoNewPrivs:") != "NoNewPrivs:\t1") return 11;
    if (status_line("CapEff:") != "CapEff:\t0000000000000000") return 12;
    if (status_line("CapPrm:") != "CapPrm:\t0000000000000000") return 13;
    // Even as root, a capability-checked call now fails.
    if (::geteuid() == 0 && ::chown("/proc/self/status", 1, 1) == 0) return 14;
    return 0;
  });
  EXPECT_EQ(result.status, 0) << result.errors;
}

TEST(Confinement, AForbiddenCallStopsTheProcessWithOneLine) {
  for (ThreadRole role : {ThreadRole::kMain, ThreadRole::kVcpu, ThreadRole::kDevice}) {
    const auto result = in_child([role] {
      // Opened before: only the main thread may open files once confined.
      const int status = ::open("/proc/thread-self/status", O_RDONLY);
      if (!set_no_new_privs().ok() || !install_violation_report().ok()) return 10;
      if (!confine_thread(role).ok()) return 11;
      char text[4096] = {};
      if (::pread(status, text, sizeof text - 1, 0) <= 0) return 12;
      if (std::string(text).find("Seccomp:\t2") == std::string::npos) return 13;
      ::socket(AF_UNIX, SOCK_STREAM, 0);  // no thread of a VM opens sockets
      return 14;
    });
    EXPECT_EQ(result.status, 1) << role_name(role) << ": " << result.errors;
    EXPECT_NE(result.errors.find(std::string("the ") + role_name(role) + " thread made the forbidden system call 41"),
              std::string::npos)
        << result.errors;  // 41: socket on x86-64
    EXPECT_EQ(std::count(result.errors.begin(), result.errors.end(), '\n'), 1) << result.errors;
  }
}

TEST(Confinement, AllowedCallsGoOn) {
  const auto result = in_child([] {
    int fds[2];
    if (::pipe(fds) != 0) return 10;
    if (!set_no_new_privs().ok() || !install_violation_report().ok()) return 11;
    if (!confine_thread(ThreadRole::kDevice).ok()) return 12;
    if (::write(fds[1], "x", 1) != 1) return 13;
    char byte = 0;
    if (::read(fds[0], &byte, 1) != 1 || byte != 'x') return 14;
    std::string grow(1 << 20, 'y');  // the allocator's mmap/brk
    ::close(fds[0]);
    return grow.size() == (1u << 20) ? 0 : 15;
  });
  EXPECT_EQ(result.status, 0) << result.errors;
}

TEST(Confinement, IoctlsAreLimitedToTheirRequests) {
  const auto result = in_child([] {
    const int null = ::open("/dev/null", O_RDONLY);
    if (!set_no_new_privs().ok() || !install_violation_report().ok()) return 10;
    if (!confine_thread(ThreadRole::kDevice).ok()) return 11;
    int bytes = 0;
    ::ioctl(null, FIONREAD, &bytes);  // not one of the device thread's requests
    return 0;
  });
  EXPECT_EQ(result.status, 1) << result.errors;
  EXPECT_NE(result.errors.find("forbidden system call 16"), std::string::npos) << result.errors;  // 16: ioctl
}

TEST(Confinement, StrayDescriptorsAreClosed) {
  const auto result = in_child([] {
    const int stray = ::open("/dev/null", O_RDONLY);  // not close-on-exec, as a careless launcher leaves it
    const int kept = ::open("/dev/null", O_RDONLY);
    const int keep[] = {kept};
    if (!close_stray_descriptors(keep).ok()) return 10;
    if (::fcntl(stray, F_GETFD) != -1) return 11;
    if (::fcntl(kept, F_GETFD) == -1) return 12;
    if (::fcntl(STDERR_FILENO, F_GETFD) == -1) return 13;
    return 0;
  });
  EXPECT_EQ(result.status, 0) << result.errors;
}

}  // namespace
}  // namespace vmhive::confinement

TEST(Confinement, AReportNamesTheForbiddenCall) {
  EXPECT_EQ(vmhive::confinement::system_call_name(41), "socket");
  EXPECT_EQ(vmhive::confinement::system_call_name(-5), "");
  const std::string report =
      "vmhive: the main thread made the forbidden system call 41 (seccomp; --no-seccomp turns the filters off)";
  EXPECT_EQ(vmhive::confinement::name_system_call_in(report),
            "vmhive: the main thread made the forbidden system call 41 (socket) (seccomp; --no-seccomp turns the "
            "filters off)");
  // Named once only, and lines that are no report (or hostile ones) pass unchanged.
  const std::string named = vmhive::confinement::name_system_call_in(report);
  EXPECT_EQ(vmhive::confinement::name_system_call_in(named), named);
  for (const std::string line : {"", "forbidden system call ", "forbidden system call x", "forbidden system call 99999999",
                                 "forbidden system call 4000000", "a line of its own"})
    EXPECT_EQ(vmhive::confinement::name_system_call_in(line), line);
}
