// bench/boot: vmhive against QEMU (-M microvm, -M pc, -enable-kvm) on the
// same test guests, in one run:
//   - time from process start to the guest's first serial line, and to exit
//   - VMM resident memory excluding guest RAM, while the guest idles
//   - port-I/O exits per second of the `exits` guest
// QEMU gets "-cpu host,-arch-capabilities": on KVM-PVM hosts plain "host" aborts
// setting MSR 0x10a (IA32_ARCH_CAPABILITIES), which PVM does not offer.
// Usage: boot_bench VMHIVE GUEST_DIR [RUNS]
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Vmm {
  std::string name;
  // Builds the command line for a guest ELF and a command line for it.
  std::vector<std::string> (*command)(const std::string& binary, const std::string& guest, const std::string& cmdline);
  std::string binary;
};

constexpr const char* kMemory = "128";

std::vector<std::string> vmhive_command(const std::string& binary, const std::string& guest, const std::string& cmdline) {
  return {binary, "run", "--kernel", guest, "--mem", std::string(kMemory) + "M", "--cmdline", cmdline};
}

std::vector<std::string> qemu_common(const std::string& binary, const std::string& machine, const std::string& guest,
                                     const std::string& cmdline) {
  return {binary, "-M", machine, "-enable-kvm", "-cpu", "host,-arch-capabilities", "-m", kMemory, "-smp", "1", "-nodefaults",
          "-no-user-config", "-nographic", "-serial", "stdio", "-kernel", guest, "-append", cmdline,
          "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-no-reboot"};
}

std::vector<std::string> qemu_microvm_command(const std::string& binary, const std::string& guest,
                                              const std::string& cmdline) {
  return qemu_common(binary, "microvm,rtc=on", guest, cmdline);
}

std::vector<std::string> qemu_pc_command(const std::string& binary, const std::string& guest, const std::string& cmdline) {
  return qemu_common(binary, "pc", guest, cmdline);
}

struct Sample {
  double first_line_ms = -1;
  double exit_ms = -1;
  std::string output;
  int status = -1;
};

// Runs a command with stdout on a pipe; timestamps the first '\n' and the exit.
// `on_first_line` may inspect the live process (for RSS sampling).
Sample run_once(const std::vector<std::string>& command, double timeout_s, bool stop_after_first_line = false,
                long* rss_out_kib = nullptr) {
  int out[2];
  if (pipe(out) != 0) return {};
  auto start = Clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(null, 2);
    std::vector<char*> argv;
    for (const auto& arg : command) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  Sample sample;
  char buffer[4096];
  bool open_pipe = true;
  while (open_pipe) {
    double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (elapsed > timeout_s) break;
    pollfd fd{out[0], POLLIN, 0};
    if (poll(&fd, 1, 100) <= 0) continue;
    ssize_t count = read(out[0], buffer, sizeof buffer);
    if (count <= 0) break;
    sample.output.append(buffer, static_cast<size_t>(count));
    if (sample.first_line_ms < 0 && sample.output.find('\n') != std::string::npos) {
      sample.first_line_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      if (rss_out_kib) {
        usleep(300000);  // let it settle into its idle loop
        *rss_out_kib = -1;
        std::ifstream smaps("/proc/" + std::to_string(pid) + "/smaps");
        // Sum Rss over mappings, leaving out guest RAM: the mapping(s) as large as the guest.
        long total = 0;
        std::string line;
        unsigned long long start_addr = 0, end_addr = 0;
        const unsigned long long guest_bytes = std::stoull(kMemory) << 20;
        while (std::getline(smaps, line)) {
          if (line.find('-') != std::string::npos && line.find(':') == std::string::npos) {
            std::sscanf(line.c_str(), "%llx-%llx", &start_addr, &end_addr);
          } else if (line.rfind("Rss:", 0) == 0 && end_addr - start_addr < guest_bytes) {
            total += std::atol(line.c_str() + 4);
          }
        }
        *rss_out_kib = total;
      }
      if (stop_after_first_line) kill(pid, SIGKILL);
    }
  }
  int status = 0;
  if (sample.exit_ms < 0) {
    // Wait (bounded) for the exit.
    for (int i = 0; i < 1000 && waitpid(pid, &status, WNOHANG) == 0; ++i) usleep(10000);
    if (waitpid(pid, &status, WNOHANG) == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
    }
    sample.exit_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  }
  close(out[0]);
  sample.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return sample;
}

struct Stats {
  double median, min, max;
};

Stats stats_of(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  if (values.empty()) return {-1, -1, -1};
  return {values[values.size() / 2], values.front(), values.back()};
}

double parse_average_exits(const std::string& output) {
  auto at = output.find("exits: average ");
  if (at == std::string::npos) return -1;
  return std::atof(output.c_str() + at + 15);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s VMHIVE GUEST_DIR [RUNS] [QEMU]\n", argv[0]);
    return 2;
  }
  std::string guest_dir = argv[2];
  int runs = argc > 3 ? std::atoi(argv[3]) : 10;
  std::string qemu = argc > 4 ? argv[4] : "/usr/bin/qemu-system-x86_64";
  std::vector<Vmm> vmms = {{"vmhive", vmhive_command, argv[1]},
                           {"qemu-microvm", qemu_microvm_command, qemu},
                           {"qemu-pc", qemu_pc_command, qemu}};
  std::string hello = guest_dir + "/hello.elf";
  std::string actions = guest_dir + "/actions.elf";
  std::string exits = guest_dir + "/exits.elf";

  std::map<std::string, Stats> first_line, to_exit;
  std::map<std::string, long> rss;
  std::map<std::string, double> exit_rate;
  std::printf("bench/boot: %d runs each, %s MiB, 1 vCPU, guest %s\n\n", runs, kMemory, hello.c_str());
  for (const auto& vmm : vmms) {
    std::vector<double> firsts, exits_ms;
    int failures = 0;
    // Interleaving would be fairer still; runs alternate VMMs per round below instead.
    for (int i = 0; i < runs; ++i) {
      auto sample = run_once(vmm.command(vmm.binary, hello, ""), 30);
      bool ok = sample.output.find("hello from vmhive test guest") != std::string::npos;
      if (!ok || sample.first_line_ms < 0) {
        ++failures;
        if (failures == 1) std::fprintf(stderr, "%s: run failed (status %d): %s\n", vmm.name.c_str(), sample.status, sample.output.c_str());
        continue;
      }
      firsts.push_back(sample.first_line_ms);
      exits_ms.push_back(sample.exit_ms);
    }
    first_line[vmm.name] = stats_of(firsts);
    to_exit[vmm.name] = stats_of(exits_ms);
    long kib = -1;
    run_once(vmm.command(vmm.binary, actions, "action=halt-forever"), 30, true, &kib);
    rss[vmm.name] = kib;
    auto sample = run_once(vmm.command(vmm.binary, exits, "seconds=3"), 60);
    exit_rate[vmm.name] = parse_average_exits(sample.output);
    if (failures) std::printf("%s: %d of %d runs failed\n", vmm.name.c_str(), failures, runs);
  }

  std::printf("| VMM | first serial line ms (median / min / max) | exit ms (median / min / max) | RSS excl. guest RAM KiB | port-I/O exits/s |\n");
  std::printf("| --- | --- | --- | --- | --- |\n");
  for (const auto& vmm : vmms) {
    auto f = first_line[vmm.name];
    auto e = to_exit[vmm.name];
    std::printf("| %s | %.1f / %.1f / %.1f | %.1f / %.1f / %.1f | %ld | %.0f |\n", vmm.name.c_str(), f.median, f.min,
                f.max, e.median, e.min, e.max, rss[vmm.name], exit_rate[vmm.name]);
  }
  std::printf("\nratios (vmhive / peer; < 1 is better for times and memory, > 1 for exits/s):\n");
  for (const auto& peer : {"qemu-microvm", "qemu-pc"}) {
    std::printf("  vs %-13s first line %.2f   exit %.2f   RSS %.2f   exits/s %.2f\n", peer,
                first_line["vmhive"].median / first_line[peer].median, to_exit["vmhive"].median / to_exit[peer].median,
                static_cast<double>(rss["vmhive"]) / static_cast<double>(rss[peer]),
                exit_rate["vmhive"] / exit_rate[peer]);
  }
  return 0;
}
