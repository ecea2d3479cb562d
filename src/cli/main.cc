// vmhive's command line: `vmhive run` boots a VM and exits with a status
// that says how it ended; `vmhive info` reports what this host's KVM offers.
#include <CLI/CLI.hpp>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <csignal>
#include <iterator>
#include <cstdio>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <tuple>
#include <string_view>

#include <nlohmann/json.hpp>

#include "arch/x86/cpuid.h"
#include "cli/daemon_commands.h"
#include "config/device_options.h"
#include "config/vm_spec.h"
#include "clones/clone_command.h"
#include "clones/clone_server.h"
#include "farm/farm_config.h"
#include "farm/gateway.h"
#include "clones/hold_protocol.h"
#include "common/unique_fd.h"
#include "common/size_parse.h"
#include "common/fd_io.h"
#include "common/errno_error.h"
#include "config/vm_spec_json.h"
#include "confinement/jail.h"
#include "confinement/process_hygiene.h"
#include "confinement/seccomp_filters.h"
#include "host/cpu_cgroup.h"
#include "control/control_client.h"
#include "kvm/kvm.h"
#include "vmm/api_runner.h"
#include "vmm/machine_builder.h"
#include "vmm/vm_runner.h"
#include "vmm/vm_outcome.h"

namespace {

using namespace vmhive;

int fail(const std::string& message, int status = exit_status::kVmmError) {
  std::fprintf(stderr, "vmhive: %s\n", message.c_str());
  return status;
}

void report_outcome(const VmOutcome& outcome) {
  switch (outcome.kind) {
    case VmOutcomeKind::kPowerOff:
    case VmOutcomeKind::kStopped: return;
    case VmOutcomeKind::kReset: std::fprintf(stderr, "vmhive: the guest reset the machine\n"); return;
    case VmOutcomeKind::kDebugExit:
      if (outcome.code != 0) std::fprintf(stderr, "vmhive: the guest wrote %d to the debug-exit port\n", outcome.code);
      return;
    case VmOutcomeKind::kCrash:
      std::fprintf(stderr, "vmhive: guest crashed: %s\n", outcome.message.c_str());
      return;
    case VmOutcomeKind::kSignal:
      std::fprintf(stderr, "vmhive: stopped by signal %d (%s)\n", outcome.code, ::strsignal(outcome.code));
      return;
    case VmOutcomeKind::kVmmError: std::fprintf(stderr, "vmhive: %s\n", outcome.message.c_str()); return;
  }
}

// What every VM process (run, restore) gets besides its machine: confinement.
struct Confinement {
  bool seccomp = true;
  bool test_forbidden_call = false;
  std::optional<confinement::JailConfig> jail;
};

// What the thread moving a VM process into its cgroup does first: it
// outlives the point where the VM's own threads drop their capabilities and
// load their filters (vm_runner.cc), so it does the same for itself.
std::function<Result<void>()> cgroup_mover_confinement(const Confinement& confine) {
  return [seccomp = confine.seccomp]() -> Result<void> {
    VMHIVE_CHECK(confinement::set_no_new_privs());
    VMHIVE_CHECK(confinement::drop_capabilities());
    if (seccomp) VMHIVE_CHECK(confinement::confine_thread(confinement::ThreadRole::kCgroupMover));
    return {};
  };
}

// A move into the cgroup that failed after the VM started (the cgroup was
// made and set up, so this is rare): the VM ran without its weight and cap.
void report_cgroup_move(host::CgroupPlacement& placing) {
  if (auto moved = placing.finish(); !moved.ok())
    std::fprintf(stderr, "vmhive: warning: the VM ran outside its cgroup: %s\n", moved.error().message.c_str());
}

// For a jailed VM: the launcher forks it into a PID namespace of its own and
// waits for it, then removes the control socket it can no longer reach.
std::optional<int> jail_launcher(const Confinement& confine, const std::string& control_socket) {
  if (!confine.jail) return std::nullopt;
  auto launched = confinement::enter_pid_namespace();
  if (!launched.ok()) return fail(launched.error().message);
  if (!launched->has_value()) return std::nullopt;  // the VM
  struct stat info {};
  if (!control_socket.empty() && ::lstat(control_socket.c_str(), &info) == 0 && S_ISSOCK(info.st_mode))
    ::unlink(control_socket.c_str());
  return **launched;
}

int run_command(const config::VmSpec& options, const Confinement& confine, bool own_cgroup,
                const std::string& counters_file) {
  // A VM process keeps no descriptor its launcher left open by mistake,
  // only the sockets it was handed for its nets (--net fd=N).
  std::vector<int> keep;
  for (const NetSpec& net : options.nets)
    if (net.socket_fd >= 0) keep.push_back(net.socket_fd);
  if (options.alert_fd >= 0) keep.push_back(options.alert_fd);
  if (auto closed = confinement::close_stray_descriptors(keep); !closed.ok()) return fail(closed.error().message);
  auto config = config::make_vm_config(options, config::probe_host());
  if (!config.ok()) return fail(config.error().message);
  // A weight or cap (or --own-cgroup) puts the process in a cgroup of its own.
  // With a jail it is made here, before the launcher forks, so that the
  // outermost process owns it and removes it; without one it is made while
  // the machine is built and the process moved in as the VM starts.
  std::optional<host::CpuCgroup> cpu_cgroup;
  const bool policy = config->cpu.weight != CpuPolicy::kDefaultWeight || config->cpu.cap_percent != 0;
  const auto refused = [&](const Error& error) -> std::optional<int> {
    if (policy) return fail("cpu weight and cap: " + error.message);
    // Without a weight or cap to keep, the VM runs on in its launcher's cgroup.
    std::fprintf(stderr, "vmhive: warning: --own-cgroup: %s\n", error.message.c_str());
    return std::nullopt;
  };
  const std::string cgroup_id = host::CpuCgroup::name_for(config->name, ::getpid());
  std::optional<host::CgroupPlacement> placing;
  if ((own_cgroup || policy) && confine.jail) {
    auto placed = host::CpuCgroup::place(config->cpu, cgroup_id);
    if (placed.ok()) {
      cpu_cgroup.emplace(std::move(*placed));
    } else if (auto failed = refused(placed.error())) {
      return *failed;
    }
  } else if (own_cgroup || policy) {
    placing.emplace(config->cpu, cgroup_id, cgroup_mover_confinement(confine));
  }
  if (auto launcher = jail_launcher(confine, options.control)) return *launcher;
  std::vector<std::string> warnings;
  auto machine = MachineBuilder::build(*config, &warnings);
  if (placing)
    if (auto made = placing->prepared(); !made.ok())
      if (auto failed = refused(made.error())) return *failed;
  for (const std::string& warning : warnings) std::fprintf(stderr, "vmhive: warning: %s\n", warning.c_str());
  if (!machine.ok()) return fail(machine.error().message);
  if (!counters_file.empty())
    if (auto published = (*machine)->publish_counters(counters_file); !published.ok())
      return fail(published.error().message);
  RunnerOptions runner{config->control_socket, {}, confine.seccomp, confine.test_forbidden_call, confine.jail,
                       config->report_timing, config->cpu.pins};
  VmOutcome outcome = run_machine(**machine, runner);
  if (config->report_timing) std::fprintf(stderr, "%s\n", (*machine)->timing_report().c_str());
  report_outcome(outcome);
  if (placing) report_cgroup_move(*placing);
  return exit_status_for(outcome);
}

// `--exit-with-parent`: this process is killed when the one that started it
// ends (a farm's clones, a daemon's farm), so nothing outlives a farm that
// was killed outright. False if the parent is already gone.
bool exit_with_parent() {
  const pid_t parent = ::getppid();
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return false;
  return parent != 1 && ::getppid() == parent;  // not reparented before the signal was armed
}

// `farm CONFIG`: the honeyfarm's gateway, until SIGINT or SIGTERM.
int farm_command(const std::string& config_path, const std::string& binary) {
  UniqueFd fd(::open(config_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return fail(errno_error("farm", config_path).message);
  auto text = read_to_end(fd.get(), farm::FarmConfig::kMaxConfigBytes + 1);
  if (!text.ok()) return fail("farm " + config_path + ": " + text.error().message);
  auto config = farm::farm_config_from_json(std::string_view(reinterpret_cast<const char*>(text->data()), text->size()));
  if (!config.ok()) return fail("farm " + config_path + ": " + config.error().message);
  if (auto ran = farm::run_gateway(*config, binary); !ran.ok()) return fail("farm: " + ran.error().message);
  return 0;
}

// `run --api-sock PATH`: the Firecracker-compatible API; with `boot_now`
// (a kernel or a config on the command line) the VM boots at once,
// otherwise the API configures it (docs/firecracker-api.md).
int api_command(const config::VmSpec& spec, const std::string& socket, bool boot_now, const Confinement& confine) {
  if (confine.jail) return fail("--jail is not supported with --api-sock yet", exit_status::kUsage);
  if (spec.cpu.weight != CpuPolicy::kDefaultWeight || spec.cpu.cap_percent != 0)
    return fail("a cpu weight or cap is not supported with --api-sock yet", exit_status::kUsage);
  if (auto closed = confinement::close_stray_descriptors({}); !closed.ok()) return fail(closed.error().message);
  const ApiRunOptions options{socket, spec, boot_now, confine.seccomp, confine.test_forbidden_call};
  const VmOutcome outcome = run_with_api(options);
  report_outcome(outcome);
  return exit_status_for(outcome);
}

// `restore --hold-fd N` (for a clone server): with the machine built, the
// clone waits on N for the server's "go" (clones/hold_protocol.h); once the
// vCPUs run it says "running" and closes N.
int restore_command(const RestoreConfig& config, int hold_fd, const Confinement& confine, bool own_cgroup,
                    const std::string& counters_file) {
  std::vector<int> keep{hold_fd};
  for (const virtio::NetLinkSpec& link : config.net_links)
    if (link.socket_fd >= 0) keep.push_back(link.socket_fd);
  if (config.alert_fd >= 0) keep.push_back(config.alert_fd);
  if (auto closed = confinement::close_stray_descriptors(keep); !closed.ok()) return fail(closed.error().message);
  // As run --own-cgroup: a cgroup of its own (the default weight), made
  // before a jail's launcher forks, or else while the machine is restored;
  // removed when this process ends.
  std::optional<host::CpuCgroup> cpu_cgroup;
  const auto warn = [](const Error& error) {
    std::fprintf(stderr, "vmhive: warning: --own-cgroup: %s\n", error.message.c_str());
  };
  const std::string cgroup_id = host::CpuCgroup::name_for("restored", ::getpid());
  std::optional<host::CgroupPlacement> placing;
  if (own_cgroup && confine.jail) {
    auto placed = host::CpuCgroup::place(CpuPolicy{}, cgroup_id);
    if (placed.ok()) {
      cpu_cgroup.emplace(std::move(*placed));
    } else {
      warn(placed.error());
    }
  } else if (own_cgroup) {
    placing.emplace(CpuPolicy{}, cgroup_id, cgroup_mover_confinement(confine));
  }
  if (auto launcher = jail_launcher(confine, config.control_socket)) return *launcher;
  UniqueFd hold(hold_fd);
  auto machine = MachineBuilder::restore(config);
  if (placing)
    if (auto made = placing->prepared(); !made.ok()) warn(made.error());
  if (!machine.ok()) return fail(machine.error().message);
  if (!counters_file.empty())
    if (auto published = (*machine)->publish_counters(counters_file); !published.ok())
      return fail(published.error().message);
  RunnerOptions runner{config.control_socket, {}, confine.seccomp, false, confine.jail, config.report_timing, {}};
  if (hold.valid()) {
    auto outcome = clones::hold_until_go(hold.get());
    if (!outcome.ok()) return fail("--hold-fd " + std::to_string(hold_fd) + ": " + outcome.error().message);
    if (*outcome == clones::HoldOutcome::kLetGo) return 0;  // the server let this clone go unused
    runner.on_running = [&hold] {
      (void)clones::announce_running(hold.get());
      hold.reset();
    };
  }
  VmOutcome outcome = run_machine(**machine, runner);
  if (config.report_timing) std::fprintf(stderr, "%s\n", (*machine)->timing_report().c_str());
  report_outcome(outcome);
  if (placing) report_cgroup_move(*placing);
  return exit_status_for(outcome);
}

Result<Confinement> confinement_of(bool seccomp, bool test_forbidden_call, const std::string& jail,
                                   const std::string& jail_user) {
  Confinement confine{seccomp, test_forbidden_call, std::nullopt};
  if (jail.empty()) {
    if (!jail_user.empty()) return make_error("--jail-user goes with --jail");
    return confine;
  }
  confinement::JailConfig config;
  config.root = jail;
  if (!jail_user.empty()) std::tie(config.uid, config.gid) = VMHIVE_TRY(confinement::parse_jail_user(jail_user));
  confine.jail = config;
  return confine;
}

// The VM `vmhive run` is asked for: the --config document if any, with the
// flags given on the command line over it; devices parsed from their flags.
Result<config::VmSpec> run_spec(const CLI::App* run, const config::VmSpec& flags, const std::string& config_path,
                                const std::vector<std::string>& disks, const std::vector<std::string>& nets) {
  config::VmSpec spec = flags;
  if (!config_path.empty()) {
    UniqueFd fd(::open(config_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return errno_error("--config", config_path);
    auto text = read_to_end(fd.get(), config::kMaxConfigBytes);
    if (!text.ok()) return with_context("--config " + config_path, text.error());
    auto document = config::vm_spec_from_json(std::string_view(reinterpret_cast<const char*>(text->data()), text->size()));
    if (!document.ok()) return with_context("--config " + config_path, document.error());
    spec = std::move(*document);
    // What the command line says wins over the document.
    auto given = [run](const char* flag) { return run->count(flag) > 0; };
    if (given("--kernel")) spec.kernel = flags.kernel;
    if (given("--initrd")) spec.initrd = flags.initrd;
    if (given("--cmdline")) {
      spec.cmdline = flags.cmdline;
      spec.cmdline_given = true;
    }
    if (given("--mem")) spec.mem = flags.mem;
    if (given("--cpus")) spec.cpus = flags.cpus;
    if (given("--console")) spec.console = flags.console;
    if (given("--console-limit")) spec.console_limit = flags.console_limit;
    if (given("--cpu-template")) spec.cpu_template = flags.cpu_template;
    if (given("--rng")) spec.entropy_device = flags.entropy_device;
    if (given("--device-poll-us")) spec.device_poll_us = flags.device_poll_us;
    if (given("--control")) spec.control = flags.control;
    spec.kvm_device = flags.kvm_device;
    spec.report_timing = flags.report_timing;
    if (!disks.empty()) spec.disks.clear();
    if (!nets.empty()) spec.nets.clear();
  }
  for (const std::string& disk : disks) spec.disks.push_back(VMHIVE_TRY(config::parse_disk_option(disk)));
  for (const std::string& net : nets) spec.nets.push_back(VMHIVE_TRY(config::parse_net_option(net)));
  return spec;
}

// Asks the VM behind `socket` for a snapshot and prints its JSON reply.
int snapshot_command(const std::string& socket, const std::string& dir, bool stop) {
  std::error_code error;
  // Absolute: the VM's working directory may not be ours.
  const std::filesystem::path absolute = std::filesystem::absolute(dir, error);
  const nlohmann::json request{{"op", "snapshot"}, {"dir", error ? dir : absolute.string()}, {"resume", !stop}};
  std::string line;
  try {
    line = request.dump();
  } catch (const nlohmann::json::type_error&) {  // JSON strings are UTF-8; a path need not be
    return fail("snapshot " + dir + ": the path is not valid UTF-8, which a control request cannot carry");
  }
  auto reply = control::send_request(socket, line, std::chrono::seconds(120));
  if (!reply.ok()) return fail(reply.error().message);
  std::printf("%s\n", reply->c_str());
  const auto parsed = nlohmann::json::parse(*reply, nullptr, /*allow_exceptions=*/false);
  const bool ok = parsed.is_object() && parsed.contains("ok") && parsed["ok"] == true;
  return ok ? 0 : exit_status::kVmmError;
}

int info_command(const std::string& kvm_device) {
  auto kvm = kvm::Kvm::open(kvm_device);
  if (!kvm.ok()) return fail(kvm.error().message);
  const auto backend = kvm->backend();
  std::printf("kvm device:        %s\n", kvm_device.c_str());
  std::printf("backend:           %s\n", kvm::backend_name(backend));
  std::printf("max vCPUs:         %d (recommended %d)\n", kvm->max_vcpus(), kvm->recommended_vcpus());
  const char* default_template = backend == kvm::Backend::kPvm ? "pvm" : "host";
  std::printf("default template:  %s\n", default_template);
  std::printf("default cmdline:   %s\n", config::kDefaultLinuxCmdline);
  std::printf("speed trade-offs:  %s (opt-in with --cmdline)\n", config::kLinuxSpeedTradeoffs);
  if (auto found = x86::find_cpu_template(default_template); found.ok()) {
    const std::string_view arguments = (*found)->linux_arguments;
    std::printf("linux arguments:   %.*s\n", static_cast<int>(arguments.size()), arguments.data());
  }
  std::printf("cpu templates:\n");
  for (const auto& cpu_template : x86::cpu_templates()) {
    std::printf("  %-8.*s %.*s\n", static_cast<int>(cpu_template.name.size()), cpu_template.name.data(),
                static_cast<int>(cpu_template.description.size()), cpu_template.description.data());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vmhive: a virtual machine monitor on Linux KVM"};
  app.require_subcommand(1);

  config::VmSpec run_options;
  CLI::App* run = app.add_subcommand("run", "boot a VM; the exit status says how it ended");
  run->add_option("--kernel", run_options.kernel, "bzImage or ELF kernel with a PVH note (default: the Linux guest)");
  run->add_option("--initrd", run_options.initrd, "initial ramdisk");
  run->add_option("--cmdline", run_options.cmdline, "kernel command line");
  run->add_option("--mem", run_options.mem, "guest RAM, e.g. 256M, 3G (default 256M)");
  run->add_option("--cpus", run_options.cpus, "number of vCPUs (default 1; at most KVM's limit)")
      ->check(CLI::Range(1u, config::kMaxCpusOption));
  run->add_option("--console", run_options.console, "stdio, or a file for the guest's serial output");
  run->add_option("--console-limit", run_options.console_limit,
                  "at most this much guest output goes to a console file, e.g. 16M (default 64M)");
  run->add_option("--cpu-template", run_options.cpu_template, "CPUID template (see `vmhive info`)");
  run->add_option("--kvm", run_options.kvm_device, "KVM device (default /dev/kvm)");
  run->add_flag("--report-timing", run_options.report_timing, "print set-up time, run time and exit counts");
  run->add_flag("--rng", run_options.entropy_device, "give the guest a virtio-rng device (PCI, fed by getrandom)");
  std::vector<std::string> run_disks, run_nets;
  std::string run_config;
  run->add_option("--config", run_config,
                  "the VM as a JSON document (docs/vm-config.md); flags given as well override its members");
  run->add_option("--disk", run_disks,
                  "virtio-blk disk: PATH[,readonly][,overlay=PATH] (raw image; the overlay takes the writes); "
                  "repeatable");
  run->add_option("--net", run_nets,
                  "virtio-net on a tap or on an inherited Unix datagram/seqpacket socket (one frame per message): "
                  "tap=NAME[,mac=MAC] or fd=N[,mac=MAC]; repeatable");
  run->add_option("--device-poll-us", run_options.device_poll_us,
                  "how long the device thread busy-polls the queues after activity (default 50, 0: never)")
      ->check(CLI::Range(0u, config::kMaxDevicePollUs));

  bool no_seccomp = false;
  bool test_forbidden_call = false;
  bool run_own_cgroup = false;
  run->add_flag("--own-cgroup", run_own_cgroup,
                "run in a cpu cgroup of the VM's own even with the default weight and no cap (vmhived's VMs do)");
  run->add_flag("--test-forbidden-call", test_forbidden_call, "for tests: make a forbidden system call once confined")
      ->group("");  // hidden
  run->add_flag("--no-seccomp", no_seccomp,
                "run without the system-call allowlists (for debugging; capabilities are still dropped)");
  std::string run_jail, run_jail_user;
  run->add_option("--jail", run_jail,
                  "once set up, run the VM in this directory as its root, in namespaces of its own, as an "
                  "unprivileged user (docs/security.md)");
  run->add_option("--jail-user", run_jail_user, "the jailed VM's UID[:GID] (default 65534, nobody)");
  run->add_option("--control", run_options.control, "listen for control requests (snapshot, pause, ...) on this Unix socket");
  run->add_flag("--write-protect-text", run_options.write_protect_text,
                "put the kernel's text (an ELF kernel's read-only executable segments) in read-only memory: a guest "
                "write there is dropped and reported (docs/farm.md)");
  run->add_option("--alert-fd", run_options.alert_fd,
                  "report writes to the protected text as JSON lines on this inherited descriptor")
      ->check(CLI::Range(3, INT_MAX));
  std::string run_counters_file;
  run->add_option("--counters-file", run_counters_file,
                  "keep the VM's counters (exits, device traffic) in this new file, for a daemon to read");
  std::string run_api_sock;
  run->add_option("--api-sock", run_api_sock,
                  "serve the Firecracker-compatible API on this Unix socket; without --kernel or --config, wait for "
                  "the API to configure and start the VM (docs/firecracker-api.md)");

  std::string snapshot_socket, snapshot_daemon = cli::default_daemon_socket();
  std::vector<std::string> snapshot_args;
  bool snapshot_stop = false;
  CLI::App* snapshot = app.add_subcommand("snapshot", "save a running VM (started with --control) to a directory");
  snapshot->add_option("--control", snapshot_socket, "the VM's control socket (a VM of vmhive run)");
  snapshot->add_option("--daemon", snapshot_daemon, "vmhived's socket, for a VM of the daemon named NAME");
  snapshot->add_option("args", snapshot_args, "[NAME] DIR: the daemon's VM NAME, or the --control VM, to DIR")
      ->required()
      ->expected(1, 2);
  snapshot->add_flag("--stop", snapshot_stop, "stop the VM after the snapshot instead of letting it run on");

  RestoreConfig restore_config;
  CLI::App* restore = app.add_subcommand("restore", "continue a VM from a snapshot directory");
  restore->add_option("dir", restore_config.snapshot_dir, "snapshot directory")->required();
  restore->add_option("--console", restore_config.console, "stdio, or a file for the guest's serial output");
  std::string restore_console_limit = "64M";
  restore->add_option("--console-limit", restore_console_limit,
                      "at most this much guest output goes to a console file, e.g. 16M (default 64M)");
  restore->add_option("--control", restore_config.control_socket, "control socket for the restored VM");
  std::string restore_counters_file;
  restore->add_option("--counters-file", restore_counters_file,
                      "keep the VM's counters (exits, device traffic) in this new file, for a daemon to read");
  std::string restore_jail, restore_jail_user;
  restore->add_option("--jail", restore_jail, "run the restored VM jailed in this directory (as run --jail)");
  restore->add_option("--jail-user", restore_jail_user, "the jailed VM's UID[:GID] (default 65534, nobody)");
  restore->add_flag("--no-seccomp", no_seccomp,
                    "run without the system-call allowlists (for debugging; capabilities are still dropped)");
  restore->add_option("--kvm", restore_config.kvm_device, "KVM device (default /dev/kvm)");
  restore->add_flag("--report-timing", restore_config.report_timing, "print set-up time, run time and exit counts");
  std::vector<std::string> restore_nets;
  restore->add_option("--net", restore_nets,
                      "tap=NAME or fd=N (an inherited socket) for the snapshot's virtio-net devices, in order (the MAC is "
                      "the snapshot's); repeatable");
  restore->add_option("--disk", restore_config.shared_disks,
                      "a read-only image the snapshot's disk used in place, in order: it must be that very file "
                      "(a snapshot never opens host files on its own); repeatable");
  restore->add_option("--overlay-dir", restore_config.overlay_dir,
                      "keep the disks' overlays (over the snapshot's disk copies) in DIR (default: unnamed, gone with the VM)");
  restore->add_option("--overlay-prefix", restore_config.overlay_prefix, "overlay file names: PREFIX-disk-N.overlay");
  restore->add_flag("--write-protect-text", restore_config.write_protect_text,
                    "put the kernel text the snapshot records in read-only memory: a guest write there is dropped "
                    "and reported (docs/farm.md)");
  restore->add_option("--alert-fd", restore_config.alert_fd,
                      "report writes to the protected text as JSON lines on this inherited descriptor")
      ->check(CLI::Range(3, INT_MAX));
  bool restore_exit_with_parent = false;
  restore->add_flag("--exit-with-parent", restore_exit_with_parent,
                    "end the VM (SIGKILL) when the process that started it ends (a farm's clones)");
  int restore_hold_fd = -1;
  bool restore_own_cgroup = false;
  restore->add_flag("--own-cgroup", restore_own_cgroup,
                    "run in a cgroup of its own (for the daemon's accounting; a warning where none can be made)");
  restore->add_option("--hold-fd", restore_hold_fd,
                      "build the VM, write \"ready\" to fd N and start it only on \"go\" (used by clone-server)")
      ->check(CLI::Range(0, INT_MAX));
  restore->add_option("--device-poll-us", restore_config.device_poll_us,
                      "device thread busy-polls this long after activity (default 50, 0: never)")
      ->check(CLI::Range(0u, config::kMaxDevicePollUs));

  clones::CloneOptions clone_options;
  unsigned clone_count = 1;
  CLI::App* clone = app.add_subcommand("clone", "start many VMs from one snapshot, each in its own process");
  clone->add_option("dir", clone_options.snapshot_dir, "snapshot directory")->required();
  clone->add_option("--count", clone_count, "how many clones (default 1)")
      ->check(CLI::Range(1u, clones::kMaxClones));
  clone->add_option("--console-dir", clone_options.console_dir,
                    "write clone N's serial output to DIR/clone-N.log (default: discard)");
  clone->add_option("--console-limit", clone_options.console_limit,
                    "at most this much output goes to each clone's console file (default 64M)");
  clone->add_option("--control-dir", clone_options.control_dir, "give clone N the control socket DIR/clone-N.sock");
  clone->add_option("--overlay-dir", clone_options.overlay_dir,
                    "keep clone N's disk overlays in DIR/clone-N-disk-M.overlay (default: unnamed, gone with it)");
  clone->add_option("--tap-prefix", clone_options.tap_prefix, "clone N's virtio-net uses the tap PREFIXN");
  clone->add_flag("--no-seccomp", clone_options.no_seccomp, "clones run without their system-call allowlists");
  clone->add_option("--jail-dir", clone_options.jail_dir, "clone N runs jailed in DIR/clone-N (restore --jail)");
  clone->add_option("--jail-user", clone_options.jail_user, "the jailed clones' UID[:GID] (default 65534)");
  clone->add_option("--disk", clone_options.shared_disks,
                    "a read-only image the snapshot's disk used in place, in order (as restore --disk); repeatable");
  cli::DaemonCloneRequest daemon_clone;
  daemon_clone.socket = cli::default_daemon_socket();
  clone->add_option("--name-prefix", daemon_clone.name_prefix,
                    "make the clones VMs of vmhived, named PREFIX-0 ... (from its ready pool if it keeps one)");
  clone->add_option("--daemon", daemon_clone.socket, "vmhived's socket, with --name-prefix");
  clone->add_flag("--json", daemon_clone.json, "with --name-prefix: JSON instead of a table");

  clones::CloneServerOptions server_options;
  CLI::App* server = app.add_subcommand(
      "clone-server", "keep clones of a snapshot restored and ready; start one per request on a socket");
  server->add_option("dir", server_options.clones.snapshot_dir, "snapshot directory")->required();
  server->add_option("--socket", server_options.socket, "Unix socket for requests (JSON lines)")->required();
  server->add_option("--pool", server_options.pool, "clones kept ready (default 4)")
      ->check(CLI::Range(1u, clones::kMaxPool));
  server->add_option("--console-dir", server_options.clones.console_dir,
                     "write clone N's serial output to DIR/clone-N.log (default: discard)");
  server->add_option("--console-limit", server_options.clones.console_limit,
                     "at most this much output goes to each clone's console file (default 64M)");
  server->add_option("--control-dir", server_options.clones.control_dir,
                     "give clone N the control socket DIR/clone-N.sock");
  server->add_option("--overlay-dir", server_options.clones.overlay_dir, "keep clone N's disk overlays in DIR");
  server->add_option("--tap-prefix", server_options.clones.tap_prefix, "clone N's virtio-net uses the tap PREFIXN");
  server->add_flag("--no-seccomp", server_options.clones.no_seccomp, "clones run without their system-call allowlists");
  server->add_option("--jail-dir", server_options.clones.jail_dir, "clone N runs jailed in DIR/clone-N (restore --jail)");
  server->add_option("--jail-user", server_options.clones.jail_user, "the jailed clones' UID[:GID] (default 65534)");
  server->add_option("--disk", server_options.clones.shared_disks,
                     "a read-only image the snapshot's disk used in place, in order (as restore --disk); repeatable");

  std::string farm_config_path;
  CLI::App* farm = app.add_subcommand(
      "farm", "a honeyfarm: answer an address range on a tap with clones of snapshots (docs/farm.md)");
  farm->add_option("config", farm_config_path, "the farm's JSON configuration")->required();
  bool farm_exit_with_parent = false;
  farm->add_flag("--exit-with-parent", farm_exit_with_parent,
                 "end (and so end every clone) when the process that started the farm ends (vmhived --farm)");

  std::string info_kvm = "/dev/kvm";
  CLI::App* info = app.add_subcommand("info", "what this host's KVM offers");
  info->add_option("--kvm", info_kvm, "KVM device (default /dev/kvm)");

  const cli::DaemonCommands daemon_commands(app);

  static const char* const kSubcommands[] = {"run", "info", "snapshot", "restore", "clone", "clone-server", "farm"};
  const auto& daemon_names = cli::DaemonCommands::names();
  if (argc > 1 && argv[1][0] != '-' &&
      std::none_of(std::begin(kSubcommands), std::end(kSubcommands),
                   [&](const char* name) { return std::string(argv[1]) == name; }) &&
      std::find(daemon_names.begin(), daemon_names.end(), argv[1]) == daemon_names.end()) {
    return fail(std::string("unknown subcommand '") + argv[1] + "' (try --help)", exit_status::kUsage);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForAllHelp& help) {
    return app.exit(help);
  } catch (const CLI::ParseError& error) {
    std::string message = error.what();
    if (message.empty()) message = "bad arguments";
    return fail(message + " (try --help)", exit_status::kUsage);
  }
  std::signal(SIGPIPE, SIG_IGN);
  if (const auto status = daemon_commands.run()) return *status;
  if (*run) {
    run_options.cmdline_given = run->count("--cmdline") > 0;
    auto spec = run_spec(run, run_options, run_config, run_disks, run_nets);
    if (!spec.ok()) return fail(spec.error().message);
    run_options = std::move(*spec);
    auto confine = confinement_of(!no_seccomp, test_forbidden_call, run_jail, run_jail_user);
    if (!confine.ok()) return fail(confine.error().message);
    if (!run_api_sock.empty())
      return api_command(run_options, run_api_sock, run->count("--kernel") > 0 || !run_config.empty(), *confine);
    return run_command(run_options, *confine, run_own_cgroup, run_counters_file);
  }
  if (*snapshot) {
    if (!snapshot_socket.empty() && snapshot_args.size() == 1)
      return snapshot_command(snapshot_socket, snapshot_args[0], snapshot_stop);
    if (snapshot_socket.empty() && snapshot_args.size() == 2)
      return cli::daemon_snapshot(snapshot_daemon, snapshot_args[0], snapshot_args[1], snapshot_stop);
    return fail("snapshot: give --control SOCKET DIR, or NAME DIR for a VM of the daemon (try --help)",
                exit_status::kUsage);
  }
  if (*restore) {
    auto console_limit = parse_console_limit(restore_console_limit);
    if (!console_limit.ok()) return fail(console_limit.error().message);
    restore_config.console_limit = *console_limit;
    for (const std::string& text : restore_nets) {
      auto net = config::parse_net_option(text);
      if (!net.ok() || net->mac) {
        std::fprintf(stderr, "vmhive: --net %s: %s\n", text.c_str(),
                     net.ok() ? "a restored device keeps the snapshot's MAC; give only tap=NAME or fd=N"
                              : net.error().message.c_str());
        return 2;
      }
      restore_config.net_links.push_back(net->link());
    }
    auto confine = confinement_of(!no_seccomp, false, restore_jail, restore_jail_user);
    if (!confine.ok()) return fail(confine.error().message);
    if (restore_exit_with_parent && !exit_with_parent()) return fail("restore: the process that started it has ended");
    return restore_command(restore_config, restore_hold_fd, *confine, restore_own_cgroup, restore_counters_file);
  }
  if (*clone && !daemon_clone.name_prefix.empty()) {
    for (const char* local : {"--console-dir", "--control-dir", "--overlay-dir", "--no-seccomp", "--jail-dir", "--jail-user"})
      if (clone->count(local) > 0)
        return fail(std::string(local) + " is the daemon's to choose with --name-prefix", exit_status::kUsage);
    daemon_clone.snapshot_dir = clone_options.snapshot_dir;
    daemon_clone.count = clone_count;
    daemon_clone.tap_prefix = clone_options.tap_prefix;
    daemon_clone.disks = clone_options.shared_disks;
    return cli::daemon_clone(daemon_clone);
  }
  if (*clone || *server || *farm) {
    char self[4096] = {};
    const ssize_t length = ::readlink("/proc/self/exe", self, sizeof self - 1);
    const std::string binary = length > 0 ? std::string(self, static_cast<size_t>(length)) : std::string(argv[0]);
    if (*farm && farm_exit_with_parent && !exit_with_parent()) return fail("farm: the process that started it has ended");
    if (*farm) return farm_command(farm_config_path, binary);
    auto status = *clone ? clones::run_clones(clone_options, clone_count, binary)
                          : clones::run_clone_server(server_options, binary);
    if (!status.ok()) return fail(status.error().message);
    return *status;
  }
  return info_command(info_kvm);
}
