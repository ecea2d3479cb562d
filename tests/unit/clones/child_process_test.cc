// ChildProcess with real processes: exit statuses, signals, the descriptors a
// child gets (and the ones it must not), its signal mask and dispositions,
// and the destructor's kill-and-reap.
#include "clones/child_process.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "common/fd_io.h"
#include "common/unique_fd.h"

namespace vmhive::clones {
namespace {

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

Pipe make_pipe(int flags = O_CLOEXEC) {
  int fds[2];
  EXPECT_EQ(::pipe2(fds, flags), 0);
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

SpawnOptions shell(const std::string& script) { return SpawnOptions{.argv = {"/bin/sh", "-c", script}}; }

// Runs `script` with a pipe at fd 3 and returns what it wrote there.
std::string output_of(SpawnOptions options) {
  Pipe output = make_pipe();
  options.fds.push_back({output.write.get(), 3});
  auto child = ChildProcess::spawn(options);
  EXPECT_TRUE(child.ok()) << child.error().message;
  if (!child.ok()) return {};
  output.write.reset();
  std::string text(64 * 1024, '\0');
  auto got = read_fully(output.read.get(), std::span(reinterpret_cast<uint8_t*>(text.data()), text.size()));
  EXPECT_TRUE(got.ok());
  text.resize(got.ok() ? *got : 0);
  auto status = child->wait();
  EXPECT_TRUE(status.ok() && status->success()) << "the child failed";
  return text;
}

// The value of a "SigBlk:"-style line of /proc/<pid>/status, as a number.
unsigned long long status_field(const std::string& status, const std::string& name) {
  const auto at = status.find(name + ":");
  if (at == std::string::npos) return ~0ull;
  return std::strtoull(status.c_str() + at + name.size() + 1, nullptr, 16);
}

constexpr unsigned long long signal_bit(int signal) { return 1ull << (signal - 1); }

TEST(ChildProcess, ExitStatuses) {
  auto ok = ChildProcess::spawn({.argv = {"/bin/true"}});
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_GT(ok->pid(), 0);
  auto status = ok->wait();
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_TRUE(status->success());

  auto three = ChildProcess::spawn(shell("exit 3"));
  ASSERT_TRUE(three.ok()) << three.error().message;
  status = three->wait();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->code, 3);
  EXPECT_EQ(status->signal, 0);
  EXPECT_FALSE(status->success());
  // A reaped child keeps its status and can no longer be signalled.
  auto again = three->try_wait();
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(again->has_value());
  EXPECT_EQ((*again)->code, 3);
  EXPECT_FALSE(three->kill(SIGTERM).ok());
}

TEST(ChildProcess, KillAndTryWait) {
  auto child = ChildProcess::spawn({.argv = {"/bin/sleep", "60"}});
  ASSERT_TRUE(child.ok()) << child.error().message;
  auto running = child->try_wait();
  ASSERT_TRUE(running.ok()) << running.error().message;
  EXPECT_FALSE(running->has_value()) << "sleep 60 ended at once";
  ASSERT_TRUE(child->kill(SIGTERM).ok());
  auto status = child->wait();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->signal, SIGTERM);
}

TEST(ChildProcess, DestructorKillsAndReaps) {
  pid_t pid = 0;
  {
    auto child = ChildProcess::spawn({.argv = {"/bin/sleep", "60"}});
    ASSERT_TRUE(child.ok()) << child.error().message;
    pid = child->pid();
  }
  // Reaped: it is no longer a child of ours at all.
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(ChildProcess, ReleasedChildIsLeftToTheCaller) {
  pid_t pid = 0;
  {
    auto child = ChildProcess::spawn(shell("exit 7"));
    ASSERT_TRUE(child.ok()) << child.error().message;
    pid = child->release();
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 7);
}

TEST(ChildProcess, MissingProgramIsAnError) {
  auto child = ChildProcess::spawn({.argv = {"/nonexistent/program"}});
  ASSERT_FALSE(child.ok());
  EXPECT_NE(child.error().message.find("cannot start /nonexistent/program"), std::string::npos)
      << child.error().message;
  EXPECT_FALSE(ChildProcess::spawn({}).ok());
  EXPECT_FALSE(ChildProcess::spawn({.argv = {"/bin/true"}, .fds = {{1, 2}}}).ok()) << "placed over stderr";
}

TEST(ChildProcess, PlacedDescriptorAndStdinAreReadable) {
  Pipe hold = make_pipe();
  Pipe input = make_pipe();
  ASSERT_TRUE(write_fully(hold.write.get(), "hello\n").ok());
  ASSERT_TRUE(write_fully(input.write.get(), "typed\n").ok());
  hold.write.reset();
  input.write.reset();
  SpawnOptions options = shell(R"(read word <&3 && [ "$word" = hello ] && read line && [ "$line" = typed ])");
  options.stdin_fd = input.read.get();
  options.fds.push_back({hold.read.get(), 3});
  auto child = ChildProcess::spawn(options);
  ASSERT_TRUE(child.ok()) << child.error().message;
  auto status = child->wait();
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(status->success()) << "the child could not read fd 3 or stdin: exit " << status->code;
}

TEST(ChildProcess, OnlyItsOwnDescriptorsAreOpen) {
  // Not close-on-exec: without closefrom the child would inherit both ends.
  Pipe stray = make_pipe(0);
  UniqueFd high(::fcntl(stray.write.get(), F_DUPFD, 100));  // F_DUPFD: not close-on-exec either
  ASSERT_TRUE(high.valid());
  // The shell's own descriptors ($$). The redirection is the subshell's, so
  // the shell itself keeps exactly what it was started with.
  const std::string listing = output_of(shell("(ls /proc/$$/fd) >&3"));
  std::set<std::string> open;
  std::istringstream lines(listing);
  for (std::string line; std::getline(lines, line);) open.insert(line);
  EXPECT_EQ(open, (std::set<std::string>{"0", "1", "2", "3"})) << listing;
}

TEST(ChildProcess, StdinAndStdoutAreDevNull) {
  EXPECT_EQ(output_of(shell("(readlink /proc/$$/fd/0 /proc/$$/fd/1) >&3")), "/dev/null\n/dev/null\n");
}

TEST(ChildProcess, DescriptorsPlacedOverEachOther) {
  // Two descriptors that are each other's target numbers: neither copy may clobber the other.
  Pipe first = make_pipe();
  Pipe second = make_pipe();
  ASSERT_TRUE(write_fully(first.write.get(), "one\n").ok());
  ASSERT_TRUE(write_fully(second.write.get(), "two\n").ok());
  first.write.reset();
  second.write.reset();
  const std::string first_at = std::to_string(second.read.get()), second_at = std::to_string(first.read.get());
  SpawnOptions options =
      shell("read a <&" + first_at + R"( && [ "$a" = one ] && read b <&)" + second_at + R"( && [ "$b" = two ])");
  options.fds = {{first.read.get(), second.read.get()}, {second.read.get(), first.read.get()}};
  auto child = ChildProcess::spawn(options);
  ASSERT_TRUE(child.ok()) << child.error().message;
  auto status = child->wait();
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(status->success()) << "exit " << status->code;
}

TEST(ChildProcess, SignalMaskAndDefaults) {
  // The child's mask is the one asked for, not ours.
  SpawnOptions masked = shell("exec cat /proc/self/status >&3");
  sigaddset(&masked.signal_mask, SIGUSR1);
  const std::string with_usr1 = output_of(masked);
  EXPECT_EQ(status_field(with_usr1, "SigBlk") & (signal_bit(SIGUSR1) | signal_bit(SIGTERM)), signal_bit(SIGUSR1))
      << with_usr1;

  // An ignored SIGPIPE is inherited unless it is reset to its default.
  struct sigaction ignore {}, previous {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGPIPE, &ignore, &previous), 0);
  const std::string reset = output_of(shell("exec cat /proc/self/status >&3"));
  SpawnOptions keep = shell("exec cat /proc/self/status >&3");
  keep.default_signals.clear();
  const std::string inherited = output_of(keep);
  ::sigaction(SIGPIPE, &previous, nullptr);
  EXPECT_EQ(status_field(reset, "SigIgn") & signal_bit(SIGPIPE), 0u) << reset;
  EXPECT_EQ(status_field(inherited, "SigIgn") & signal_bit(SIGPIPE), signal_bit(SIGPIPE)) << inherited;
}

// Waits until `pid` has ended, leaving it unreaped.
void wait_until_ended(pid_t pid) {
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR) {
  }
}

TEST(ChildProcess, CollectEndedChildrenFindsEachOnce) {
  std::vector<ChildProcess> children;
  for (int code : {0, 1, 2}) {
    auto child = ChildProcess::spawn(shell("exit " + std::to_string(code)));
    ASSERT_TRUE(child.ok()) << child.error().message;
    children.push_back(std::move(*child));
  }
  auto running = ChildProcess::spawn({.argv = {"/bin/sleep", "60"}});
  ASSERT_TRUE(running.ok());
  // A child no ChildProcess owns: reaped by collect_ended_children itself.
  auto stranger = ChildProcess::spawn({.argv = {"/bin/true"}});
  ASSERT_TRUE(stranger.ok());
  const pid_t stranger_pid = stranger->release();
  for (auto& child : children) wait_until_ended(child.pid());
  wait_until_ended(stranger_pid);

  std::set<int> codes;
  collect_ended_children([&](pid_t pid) {
    EXPECT_NE(pid, running->pid()) << "a running child was reported";
    for (auto& child : children) {
      if (child.pid() != pid) continue;
      auto status = child.wait();
      EXPECT_TRUE(status.ok());
      EXPECT_TRUE(codes.insert(status->code).second) << "collected twice";
      return true;
    }
    return false;
  });
  EXPECT_EQ(codes, (std::set<int>{0, 1, 2}));
  EXPECT_EQ(::waitpid(stranger_pid, nullptr, WNOHANG), -1) << "the unowned child was not reaped";
  auto still = running->try_wait();
  ASSERT_TRUE(still.ok());
  EXPECT_FALSE(still->has_value());
}

}  // namespace
}  // namespace vmhive::clones
