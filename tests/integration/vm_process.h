// Runs the vmhive binary as a child process, as a user would, and watches its
// console output: the integration tests' view of a VM.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace vmhive::testing {

// Where CMake put things (compile definitions from tests/CMakeLists.txt).
std::string vmhive_binary();
std::string vmhived_binary();
std::string guest_path(const std::string& name);  // build/guests/<name>.elf
std::string linux_guest_dir();                    // build/linux-guest

// True when /dev/kvm can be opened read-write.
bool kvm_available();

// Skips the test when there is no usable /dev/kvm, and says so loudly: on
// machines with KVM (CI included) these tests must run.
#define VMHIVE_REQUIRE_KVM()                                                                  \
  do {                                                                                        \
    if (!::vmhive::testing::kvm_available()) {                                                \
      std::fprintf(stderr, "\n*** SKIPPED: /dev/kvm is not usable here; this test needs KVM ***\n\n"); \
      GTEST_SKIP() << "no usable /dev/kvm";                                                   \
    }                                                                                         \
  } while (0)

class VmProcess {
 public:
  // Starts `vmhive <args...>` with stdin, stdout and stderr on pipes.
  // With `netns`, vmhive runs in that network namespace (/var/run/netns/NAME).
  static VmProcess start(const std::vector<std::string>& args, const std::string& netns = {});
  // Any program (the daemon, curl) the same way.
  static VmProcess start_program(const std::string& binary, const std::vector<std::string>& args,
                                 const std::string& netns = {});
  // `vmhive <args...>` handed `fds` as its descriptors 3, 4, ... (the
  // caller keeps its own copies and closes them when it likes).
  static VmProcess start_with_fds(const std::vector<std::string>& args, const std::vector<int>& fds);
  VmProcess(VmProcess&& other) noexcept;
  VmProcess(const VmProcess&) = delete;
  VmProcess& operator=(const VmProcess&) = delete;
  VmProcess& operator=(VmProcess&&) = delete;
  ~VmProcess();  // kills the child if it still runs

  // Reads console output until `text` appears or the timeout passes.
  bool wait_for_output(const std::string& text, std::chrono::milliseconds timeout);
  // The same, looking only at what came after the first `offset` bytes.
  bool wait_for_output_after(size_t offset, const std::string& text, std::chrono::milliseconds timeout);
  void write_input(const std::string& bytes);
  void close_input();
  void send_signal(int signal);
  // The exit status (128+N if killed by signal N), or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);

  const std::string& output() const { return stdout_text_; }
  const std::string& errors() const { return stderr_text_; }
  pid_t pid() const { return pid_; }

 private:
  VmProcess(pid_t pid, int input, int output, int errors) : pid_(pid), stdin_(input), stdout_(output), stderr_(errors) {}
  static VmProcess launch(const std::string& binary, const std::vector<std::string>& args, const std::string& netns,
                          const std::vector<int>& fds);
  // Moves whatever the pipes hold into the buffers; waits up to `timeout`.
  void pump(std::chrono::milliseconds timeout);

  pid_t pid_;
  int stdin_;
  int stdout_;
  int stderr_;
  std::string stdout_text_;
  std::string stderr_text_;
  std::optional<int> status_;
};

struct RunResult {
  std::optional<int> status;  // nullopt: timed out (the child was killed)
  std::string output;
  std::string errors;
};

// Runs vmhive (or any program) to completion with stdin closed.
RunResult run_vmhive(const std::vector<std::string>& args, std::chrono::milliseconds timeout);
RunResult run_program(const std::string& binary, const std::vector<std::string>& args,
                      std::chrono::milliseconds timeout);

// The lines of `text`, with any trailing '\r' removed.
std::vector<std::string> lines_of(const std::string& text);

// A test guest (guests/<name>.elf) run to its end with extra vmhive options.
RunResult run_guest(const std::string& guest, std::vector<std::string> extra = {},
                    std::chrono::milliseconds timeout = std::chrono::seconds(60));
// Whether the console printed exactly this line.
bool has_line(const RunResult& result, const std::string& line);
// Status, console and stderr, for a failure message.
std::string describe(const RunResult& result);

}  // namespace vmhive::testing
