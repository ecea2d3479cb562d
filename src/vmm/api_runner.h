// `vmhive run --api-sock PATH`: a VM driven through the Firecracker-
// compatible API (fcapi/fc_api.h, docs/firecracker-api.md). Without a
// kernel on the command line the process serves the API and waits, as
// `firecracker --api-sock` does, until InstanceStart (or a snapshot load)
// gives it a machine; then it runs that machine with vm_runner's loop, which
// keeps serving the API beside the console and signals, on the main thread.
#pragma once

#include <string>

#include "config/vm_spec.h"
#include "vmm/vm_outcome.h"

namespace vmhive {

struct ApiRunOptions {
  std::string socket_path;
  // What the command line says (console, KVM device, CPU template, --rng,
  // --control, ...): the API's configuration completes it.
  config::VmSpec base;
  bool boot_now = false;  // the command line names the kernel: boot `base` at once, then serve
  bool seccomp = true;
  bool test_forbidden_call = false;
};

// Serves until the VM ends (its outcome), or, before one starts, until a
// termination signal (kSignal) or a failure to serve (kVmmError).
VmOutcome run_with_api(const ApiRunOptions& options);

}  // namespace vmhive
