// What the registry reports of its VMs: one VM's inspection and every
// VM's metrics in the Prometheus text format.
#include "daemon/vm_registry.h"

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

std::string VmRegistry::metrics() const {
  std::string text;
  const auto family = [&](const char* metric, const char* type, const char* help) {
    text += std::string("# HELP ") + metric + " " + help + "\n# TYPE " + metric + " " + type + "\n";
  };
  std::vector<std::pair<const ManagedVm*, ProcessUsage>> usages;
  for (const auto& [name, vm] : vms_)
    usages.emplace_back(&vm, vm.process ? process_usage(vm.process->pid()) : ProcessUsage{});
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
  family("vmhive_vm_vcpu_seconds_total", "counter", "host CPU time of the VM's vCPU threads");
  per_vm("vmhive_vm_vcpu_seconds_total", [](const ManagedVm&, const ProcessUsage& usage) { return usage.vcpu_seconds; });
  family("vmhive_vm_resident_bytes", "gauge", "resident memory of the VM's process");
  per_vm("vmhive_vm_resident_bytes", [](const ManagedVm&, const ProcessUsage& usage) { return usage.resident_bytes; });
  family("vmhive_vms", "gauge", "VMs the daemon manages");
  text += "vmhive_vms " + std::to_string(vms_.size()) + "\n";
  return text;
}

}  // namespace vmhive::daemon
