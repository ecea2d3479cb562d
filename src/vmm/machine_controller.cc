#include "vmm/machine_controller.h"

#include <chrono>

#include "snapshot/snapshot_dir.h"

namespace vmhive {
namespace {

using Clock = std::chrono::steady_clock;

double milliseconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

}  // namespace

Result<void> MachineController::pause() {
  if (paused_) return {};
  VMHIVE_CHECK(machine_.pause());
  paused_ = true;
  return {};
}

Result<void> MachineController::resume() {
  if (paused_) machine_.resume();
  paused_ = false;
  return {};
}

Result<control::SnapshotReport> MachineController::snapshot(const std::string& dir, bool resume) {
  const snapshot::SnapshotDir target = VMHIVE_TRY(snapshot::SnapshotDir::create(dir));
  control::SnapshotReport report;
  const auto start = Clock::now();
  if (!paused_) VMHIVE_CHECK(machine_.pause());
  const auto paused = Clock::now();
  auto written = [&]() -> Result<void> {
    const snapshot::MachineState state = VMHIVE_TRY(machine_.capture_state(target));
    const auto captured = Clock::now();
    // Memory first, state last: a directory with a state file is complete.
    AtomicFile memory = VMHIVE_TRY(target.create_file(snapshot::SnapshotDir::kMemoryName));
    report.memory_bytes_written = VMHIVE_TRY(machine_.save_memory(memory.fd()));
    if (auto committed = memory.commit(); !committed.ok())
      return with_context("snapshot " + target.path(), committed.error());
    const auto memory_done = Clock::now();
    report.state_bytes = VMHIVE_TRY(target.write_state(state));
    const auto done = Clock::now();
    report.pause_ms = milliseconds_between(start, paused);
    report.capture_ms = milliseconds_between(paused, captured);
    report.memory_ms = milliseconds_between(captured, memory_done);
    report.state_ms = milliseconds_between(memory_done, done);
    report.total_ms = milliseconds_between(start, done);
    return {};
  }();
  if (!paused_) machine_.resume();
  if (!written.ok()) return written.error();
  if (!resume) stop();
  return report;
}

void MachineController::stop() {
  machine_.stop_controller().request_stop(VmOutcome{VmOutcomeKind::kStopped, 0, {}});
}

control::VmStats MachineController::stats() const {
  control::VmStats stats;
  stats.vcpu_seconds = machine_.vcpu_seconds();
  stats.exits = machine_.exits_by_reason();
  for (const Machine::DeviceTrafficReport& device : machine_.device_traffic()) {
    const virtio::DeviceTraffic& traffic = device.traffic;
    stats.devices.push_back({virtio::type_name(device.type), device.index, traffic.in_requests,
                             traffic.in_bytes, traffic.out_requests, traffic.out_bytes, traffic.other_requests,
                             traffic.failed});
  }
  return stats;
}

control::VmStatus MachineController::status() const {
  if (machine_.stop_controller().stopping()) return {control::VmState::kStopping};
  return {paused_ ? control::VmState::kPaused : control::VmState::kRunning};
}

}  // namespace vmhive
