// What the registry reports of its VMs: one VM's inspection and every
// VM's metrics in the Prometheus text format.
#include "daemon/vm_registry.h"

#include <malloc.h>

#include "control/control_client.h"
#include "control/controller_requests.h"

namespace vmhive::daemon {

Result<nlohmann::ordered_json> VmRegistry::inspect(const std::string& name) const {
  const ManagedVm* vm = VMHIVE_TRY(managed(name));
  nlohmann::ordered_json document = record_to_json(vm->record);
  if (vm->process) {
    const ProcessUsage usage = process_usage(vm->process->pid());
    document["uptime_s"] = static_cast<double>(wall_clock_ms() - vm->record.started_ms) / 1000.0;
    document["usage"] = {{"cpu_seconds", usage.cpu_seconds},
                         {"vcpu_seconds", usage.vcpu_seconds},
                         {"resident_bytes", usage.resident_bytes},
                         {"threads", usage.threads}};
  }
  document["files"] = {{"console_log", store_.vm_file(name, "console.log")},
                       {"vmm_log", store_.vm_file(name, "vmm.log")},
                       {"control_socket", store_.vm_file(name, "control.sock")}};
  return document;
}

std::string VmRegistry::usage_metrics() const {
  std::string text;
  const auto family = [&](const char* metric, const char* type, const char* help) {
    text += std::string("# HELP ") + metric + " " + help + "\n# TYPE " + metric + " " + type + "\n";
  };
  // One /proc/<pid>/stat read a VM (a jailed VM is its launcher and the VM
  // inside, so both are read); the vCPU time is the VM's own answer.
  std::vector<std::pair<const ManagedVm*, ProcessUsage>> usages;
  for (const auto& [name, vm] : vms_) {
    ProcessUsage usage;
    if (vm.process) usage = options_.jail ? process_usage(vm.process->pid()) : process_stat_usage(vm.process->pid());
    usages.emplace_back(&vm, usage);
  }
  const auto per_vm = [&](const char* metric, auto value) {
    for (const auto& [vm, usage] : usages)
      text += std::string(metric) + "{vm=\"" + vm->record.name + "\"} " + std::to_string(value(*vm, usage)) + "\n";
  };
  family("vmhive_vm_up", "gauge", "1 while the VM's process runs");
  per_vm("vmhive_vm_up", [](const ManagedVm& vm, const ProcessUsage&) { return vm.process ? 1 : 0; });
  family("vmhive_vm_starts_total", "counter", "times the VM was started");
  per_vm("vmhive_vm_starts_total", [](const ManagedVm& vm, const ProcessUsage&) { return vm.record.starts; });
  family("vmhive_vm_cpu_seconds_total", "counter", "host CPU time of the VM's process");
  per_vm("vmhive_vm_cpu_seconds_total", [](const ManagedVm&, const ProcessUsage& usage) { return usage.cpu_seconds; });
  family("vmhive_vm_resident_bytes", "gauge", "resident memory of the VM's process");
  per_vm("vmhive_vm_resident_bytes", [](const ManagedVm&, const ProcessUsage& usage) { return usage.resident_bytes; });
  family("vmhive_vms", "gauge", "VMs the daemon manages");
  text += "vmhive_vms " + std::to_string(vms_.size()) + "\n";
  return text;
}

std::optional<std::string> VmRegistry::metrics(std::function<void(std::string)> done) {
  // A running VM's own counters come from its counters file, read without
  // waking it; a VM without one (jailed, or started by an older vmhive) is
  // asked, all such at once, and /proc is read while they work on their
  // answers: the loop is never held.
  struct Collection {
    std::string usage;
    std::vector<std::pair<std::string, nlohmann::json>> stats;  // from the files, and the VMs that answered
    size_t left = 0;
    std::function<void(std::string)> done;
    void finish() {
      std::sort(stats.begin(), stats.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      done(usage + stats_metrics(stats));
      stats.clear();
      ::malloc_trim(0);  // a scrape of thousands of VMs leaves the heap large for a while otherwise
    }
  };
  auto collection = std::make_shared<Collection>();
  collection->done = std::move(done);
  std::vector<const ManagedVm*> asked;
  for (const auto& [name, vm] : vms_) {
    if (!vm.process || (vm.record.phase != VmPhase::kRunning && vm.record.phase != VmPhase::kPaused)) continue;
    if (auto counted = read_counters_file(store_.vm_file(name, "counters"), vm.process->pid())) {
      collection->stats.emplace_back(name, control::stats_to_json(*counted));
    } else {
      asked.push_back(&vm);
    }
  }
  collection->left = asked.size();
  for (const ManagedVm* vm : asked) {
    const std::string name = vm->record.name;
    ask_vm(*vm, R"({"op":"stats"})", kStatsTimeout,
           [collection, name](Result<nlohmann::json> reply) {
             if (reply.ok()) collection->stats.emplace_back(name, std::move(*reply));
             if (--collection->left == 0) collection->finish();
           },
           /*wait_for_socket=*/false);
  }
  collection->usage = usage_metrics();
  if (!asked.empty()) return std::nullopt;
  std::sort(collection->stats.begin(), collection->stats.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string text = collection->usage + stats_metrics(collection->stats);
  collection->stats.clear();
  ::malloc_trim(0);
  return text;
}

namespace {

// One sample line; `labels` already holds vm="..." and any others.
void sample(std::string& text, const std::string& metric, const std::string& labels, uint64_t value) {
  text += metric + "{" + labels + "} " + std::to_string(value) + "\n";
}

uint64_t counter_of(const nlohmann::json& object, const char* member) {
  const auto found = object.find(member);
  return found != object.end() && found->is_number_unsigned() ? found->get<uint64_t>() : 0;
}

// One device metric: which device kind, its name, the stats member it shows.
struct DeviceMetric {
  const char* kind;    // the stats' "kind"
  const char* label;   // the label naming the device's index
  const char* metric;
  const char* member;
  const char* help;
};
constexpr DeviceMetric kDeviceMetrics[] = {
    {"virtio-blk", "disk", "vmhive_vm_disk_read_bytes_total", "in_bytes", "bytes the guest read from the disk"},
    {"virtio-blk", "disk", "vmhive_vm_disk_write_bytes_total", "out_bytes", "bytes the guest wrote to the disk"},
    {"virtio-blk", "disk", "vmhive_vm_disk_read_requests_total", "in_requests", "read requests served"},
    {"virtio-blk", "disk", "vmhive_vm_disk_write_requests_total", "out_requests", "write requests served"},
    {"virtio-blk", "disk", "vmhive_vm_disk_other_requests_total", "other_requests",
     "flush, discard, write-zeroes and identify requests served"},
    {"virtio-blk", "disk", "vmhive_vm_disk_failed_requests_total", "failed", "requests answered with an error"},
    {"virtio-net", "net", "vmhive_vm_net_rx_bytes_total", "in_bytes", "frame bytes delivered to the guest"},
    {"virtio-net", "net", "vmhive_vm_net_tx_bytes_total", "out_bytes", "frame bytes the guest sent"},
    {"virtio-net", "net", "vmhive_vm_net_rx_packets_total", "in_requests", "frames delivered to the guest"},
    {"virtio-net", "net", "vmhive_vm_net_tx_packets_total", "out_requests", "frames the guest sent"},
    {"virtio-net", "net", "vmhive_vm_net_dropped_packets_total", "failed",
     "frames lost: too big for the guest's buffer, runts, or the tap full"},
    {"virtio-rng", "rng", "vmhive_vm_rng_bytes_total", "in_bytes", "entropy bytes given to the guest"},
    {"virtio-rng", "rng", "vmhive_vm_rng_requests_total", "in_requests", "entropy requests served"},
};

}  // namespace

std::string VmRegistry::stats_metrics(const std::vector<std::pair<std::string, nlohmann::json>>& stats) {
  std::string text = "# HELP vmhive_vm_vcpu_seconds_total host CPU time of the VM's vCPU threads (running VMs "
                     "that answered)\n# TYPE vmhive_vm_vcpu_seconds_total counter\n";
  for (const auto& [name, reply] : stats) {
    const auto seconds = reply.find("vcpu_seconds");
    if (seconds != reply.end() && seconds->is_number())
      text += "vmhive_vm_vcpu_seconds_total{vm=\"" + name + "\"} " + std::to_string(seconds->get<double>()) + "\n";
  }
  text += "# HELP vmhive_vm_exits_total vCPU exits to the VMM by reason (running VMs that answered)\n"
          "# TYPE vmhive_vm_exits_total counter\n";
  for (const auto& [name, reply] : stats) {
    const auto exits = reply.find("exits");
    if (exits == reply.end() || !exits->is_object()) continue;
    for (const auto& [reason, count] : exits->items())
      if (count.is_number_unsigned() && config::check_name(reason).ok())
        sample(text, "vmhive_vm_exits_total", "vm=\"" + name + "\",reason=\"" + reason + "\"", count.get<uint64_t>());
  }
  for (const DeviceMetric& family : kDeviceMetrics) {
    std::string samples;
    for (const auto& [name, reply] : stats) {
      const auto devices = reply.find("devices");
      if (devices == reply.end() || !devices->is_array()) continue;
      for (const nlohmann::json& device : *devices) {
        if (!device.is_object()) continue;
        const auto kind = device.find("kind");
        if (kind == device.end() || !kind->is_string() || kind->get<std::string>() != family.kind) continue;
        sample(samples, family.metric,
               "vm=\"" + name + "\"," + family.label + "=\"" + std::to_string(counter_of(device, "index")) + "\"",
               counter_of(device, family.member));
      }
    }
    if (samples.empty()) continue;
    text += std::string("# HELP ") + family.metric + " " + family.help + "\n# TYPE " + family.metric + " counter\n" +
            samples;
  }
  return text;
}

}  // namespace vmhive::daemon
