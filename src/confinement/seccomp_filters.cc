#include "confinement/seccomp_filters.h"

#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <memory>

#include "common/errno_error.h"
#include "kvm/ioctl_numbers.h"

namespace vmhive::confinement {
namespace {

// What every thread does: I/O on descriptors it holds, memory for the
// allocator, time, futexes, signals and leaving.
constexpr int kEveryThread[] = {
    SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(pread64), SCMP_SYS(pwrite64),
    SCMP_SYS(preadv), SCMP_SYS(pwritev), SCMP_SYS(close), SCMP_SYS(lseek), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
    SCMP_SYS(fcntl), SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(futex), SCMP_SYS(clock_gettime),
    SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep), SCMP_SYS(gettimeofday), SCMP_SYS(time), SCMP_SYS(getpid),
    SCMP_SYS(gettid), SCMP_SYS(tgkill), SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(sched_yield),
    SCMP_SYS(restart_syscall), SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(madvise), SCMP_SYS(mmap),
    SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(mprotect), SCMP_SYS(brk), SCMP_SYS(getrandom),
    SCMP_SYS(fdatasync), SCMP_SYS(fsync), SCMP_SYS(fallocate), SCMP_SYS(ftruncate),
};

// The main loop's own: accepting and answering control and API clients
// (the control socket, the Firecracker API's HTTP), and writing a snapshot's
// files (capture, memory, disk copies) into its directory; the Firecracker
// API links mem_file_path to the memory file (fcapi/fc_snapshot_files.h).
constexpr int kMainThread[] = {
    SCMP_SYS(accept4), SCMP_SYS(recvfrom), SCMP_SYS(sendto), SCMP_SYS(getsockopt), SCMP_SYS(geteuid),
    SCMP_SYS(openat), SCMP_SYS(mkdir), SCMP_SYS(mkdirat), SCMP_SYS(unlink), SCMP_SYS(unlinkat), SCMP_SYS(rename),
    SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(readlink), SCMP_SYS(readlinkat), SCMP_SYS(statx),
    SCMP_SYS(lstat), SCMP_SYS(stat), SCMP_SYS(getcwd), SCMP_SYS(symlink), SCMP_SYS(symlinkat),
    // signal dispositions put back as the main loop ends
    SCMP_SYS(rt_sigaction),
};

constexpr int kDeviceThread[] = {SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait)};

// ioctl requests, compared on their 32 bits (the kernel's `unsigned int cmd`).
constexpr unsigned long kVcpuIoctls[] = {
    KVM_RUN, KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS, KVM_SET_SREGS, kvm::ioctls::kGetMsrs, kvm::ioctls::kSetMsrs,
    KVM_SET_GUEST_DEBUG, KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS, KVM_GET_FPU, KVM_SET_FPU, kvm::ioctls::kGetXsave,
    KVM_GET_XCRS, KVM_GET_LAPIC, KVM_GET_MP_STATE, KVM_GET_DEBUGREGS,
    // the VM's: interrupt lines, MSI routes and doorbells moved by the guest
    KVM_IRQ_LINE, kvm::ioctls::kSetGsiRouting, KVM_IOEVENTFD, KVM_IRQFD, KVM_SIGNAL_MSI,
    // a tap's offloads, set when the guest's driver starts the device
    TUNSETOFFLOAD,
};
constexpr unsigned long kMainIoctls[] = {
    // reading the state a snapshot keeps
    KVM_GET_REGS, KVM_GET_SREGS, kvm::ioctls::kGetXsave, KVM_GET_XCRS, KVM_GET_VCPU_EVENTS, KVM_GET_MP_STATE,
    KVM_GET_DEBUGREGS, KVM_GET_LAPIC, kvm::ioctls::kGetMsrs, kvm::ioctls::kGetMsrIndexList, KVM_GET_IRQCHIP, KVM_GET_PIT2,
    KVM_GET_CLOCK,
    // the UART's interrupt, raised when console input arrives
    KVM_IRQ_LINE,
    // the terminal, put back to how the user had it
    TCGETS, TCSETS, TCSETSW, TCSETSF,
};
constexpr unsigned long kDeviceIoctls[] = {KVM_IRQ_LINE, kvm::ioctls::kSetGsiRouting, TUNSETOFFLOAD};

// The role of the calling thread once it is confined, for the report (a
// signal handler has nothing else to go on).
thread_local const char* confined_role = nullptr;

// Appends `text` to the report being built in a signal handler.
void append(char* report, size_t& length, size_t capacity, const char* text) {
  while (*text != '\0' && length < capacity) report[length++] = *text++;
}

// A SIGSYS report: one line naming the thread and the call's number, then
// exit status 1. Only write and exit_group, which every filter allows.
void report_violation(int, siginfo_t* info, void*) {
  char text[256];
  size_t length = 0;
  append(text, length, sizeof text, "vmhive: the ");
  append(text, length, sizeof text, confined_role != nullptr ? confined_role : "unknown");
  append(text, length, sizeof text, " thread made the forbidden system call ");
  const int number = info->si_syscall;
  char digits[12];
  int count = 0;
  unsigned value = number < 0 ? 0u : static_cast<unsigned>(number);
  do {
    digits[count++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0 && count < 11);
  while (count > 0 && length < sizeof text) text[length++] = digits[--count];
  append(text, length, sizeof text, " (seccomp; --no-seccomp turns the filters off for debugging); the VM stops\n");
  (void)!::write(STDERR_FILENO, text, length);
  ::_exit(1);
}

using Filter = std::unique_ptr<void, void (*)(scmp_filter_ctx)>;

template <size_t N>
Result<void> allow_all(scmp_filter_ctx filter, const int (&calls)[N]) {
  for (int call : calls) {
    if (const int error = seccomp_rule_add(filter, SCMP_ACT_ALLOW, call, 0); error < 0)
      return error_from_code(-error, "seccomp_rule_add failed for system call " + std::to_string(call));
  }
  return {};
}

template <size_t N>
Result<void> allow_ioctls(scmp_filter_ctx filter, const unsigned long (&requests)[N]) {
  for (unsigned long request : requests) {
    const int error = seccomp_rule_add(filter, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                                       SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffull, request & 0xffffffffull));
    if (error < 0) return error_from_code(-error, "seccomp_rule_add failed for ioctl " + std::to_string(request));
  }
  return {};
}

}  // namespace

const char* role_name(ThreadRole role) {
  switch (role) {
    case ThreadRole::kMain: return "main";
    case ThreadRole::kVcpu: return "vCPU";
    case ThreadRole::kDevice: return "device";
    case ThreadRole::kCgroupMover: return "cgroup mover";
  }
  return "unknown";
}

Result<void> install_violation_report() {
  struct sigaction action {};
  action.sa_sigaction = report_violation;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  if (::sigaction(SIGSYS, &action, nullptr) != 0) return errno_error("sigaction(SIGSYS) failed");
  return {};
}

Result<void> confine_thread(ThreadRole role) {
  Filter filter(seccomp_init(SCMP_ACT_TRAP), seccomp_release);
  if (!filter) return make_error("seccomp_init failed");
  scmp_filter_ctx context = filter.get();
  // A binary tree of system-call numbers instead of a chain: every call of a
  // hot path (KVM_RUN, pread, eventfd writes) pays a few comparisons, not
  // one per rule.
  if (const int error = seccomp_attr_set(context, SCMP_FLTATR_CTL_OPTIMIZE, 2); error < 0)
    return error_from_code(-error, "seccomp_attr_set(SCMP_FLTATR_CTL_OPTIMIZE) failed");
  VMHIVE_CHECK(allow_all(context, kEveryThread));
  switch (role) {
    case ThreadRole::kMain:
      VMHIVE_CHECK(allow_all(context, kMainThread));
      VMHIVE_CHECK(allow_ioctls(context, kMainIoctls));
      break;
    case ThreadRole::kVcpu:
      VMHIVE_CHECK(allow_ioctls(context, kVcpuIoctls));
      break;
    case ThreadRole::kDevice:
      VMHIVE_CHECK(allow_all(context, kDeviceThread));
      VMHIVE_CHECK(allow_ioctls(context, kDeviceIoctls));
      break;
    case ThreadRole::kCgroupMover:  // one write to cgroup.procs, then it ends
      break;
  }
  if (const int error = seccomp_load(context); error < 0)
    return error_from_code(-error, std::string("cannot confine the ") + role_name(role) + " thread: seccomp_load failed");
  confined_role = role_name(role);
  return {};
}

std::string system_call_name(int number) {
  char* name = ::seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, number);
  if (name == nullptr) return {};
  std::string copy(name);
  std::free(name);
  return copy;
}

std::string name_system_call_in(const std::string& report) {
  static constexpr std::string_view kMarker = "forbidden system call ";
  const size_t at = report.find(kMarker);
  if (at == std::string::npos) return report;
  const size_t digits = at + kMarker.size();
  size_t end = digits;
  while (end < report.size() && end - digits < 6 && report[end] >= '0' && report[end] <= '9') ++end;
  if (end == digits || (end < report.size() && report[end] >= '0' && report[end] <= '9')) return report;
  const std::string name = system_call_name(std::stoi(report.substr(digits, end - digits)));
  if (name.empty() || report.compare(end, name.size() + 3, " (" + name + ")") == 0) return report;
  return report.substr(0, end) + " (" + name + ")" + report.substr(end);
}

}  // namespace vmhive::confinement
