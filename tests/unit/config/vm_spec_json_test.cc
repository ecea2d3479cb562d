// A VM's configuration as a JSON document: every member read into the same
// spec the flags make, a document written back that reads the same, and one
// clear error for each malformed document.
#include "config/vm_spec_json.h"

#include <gtest/gtest.h>

#include <string>

namespace vmhive::config {
namespace {

constexpr char kFull[] = R"({
  "name": "web-1",
  "labels": {"role": "honeypot", "farm/profile": "ssh"},
  "kernel": "/images/vmlinux", "initrd": "/images/initrd", "cmdline": "console=ttyS0",
  "memory": "512M", "vcpus": 2, "cpu_template": "pvm",
  "console": "/vms/web-1.log", "console_limit": "16M",
  "disks": [{"path": "/images/root.img", "overlay": "/vms/web-1.overlay"}, {"path": "/images/data.img", "readonly": true}],
  "nets": [{"tap": "tap0", "mac": "52:54:00:12:34:56"}, {"tap": "tap1"}],
  "rng": true, "device_poll_us": 0, "control": "/run/web-1.sock",
  "cpu": {"weight": 300, "cap_percent": 50, "pins": [1, 0]}
})";

TEST(VmSpecJson, ReadsEveryMember) {
  auto spec = vm_spec_from_json(kFull);
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec->name, "web-1");
  EXPECT_EQ(spec->labels.at("farm/profile"), "ssh");
  EXPECT_EQ(spec->kernel, "/images/vmlinux");
  EXPECT_EQ(spec->initrd, "/images/initrd");
  EXPECT_TRUE(spec->cmdline_given);
  EXPECT_EQ(spec->cmdline, "console=ttyS0");
  EXPECT_EQ(spec->mem, "512M");
  EXPECT_EQ(spec->cpus, 2u);
  EXPECT_EQ(spec->cpu_template, "pvm");
  EXPECT_EQ(spec->console, "/vms/web-1.log");
  EXPECT_EQ(spec->console_limit, "16M");
  ASSERT_EQ(spec->disks.size(), 2u);
  EXPECT_EQ(spec->disks[0].overlay_path, "/vms/web-1.overlay");
  EXPECT_TRUE(spec->disks[1].read_only);
  ASSERT_EQ(spec->nets.size(), 2u);
  ASSERT_TRUE(spec->nets[0].mac.has_value());
  EXPECT_EQ((*spec->nets[0].mac)[5], 0x56);
  EXPECT_FALSE(spec->nets[1].mac.has_value());
  EXPECT_TRUE(spec->entropy_device);
  EXPECT_EQ(spec->device_poll_us, 0u);
  EXPECT_EQ(spec->control, "/run/web-1.sock");
  EXPECT_EQ(spec->cpu.weight, 300u);
  EXPECT_EQ(spec->cpu.cap_percent, 50u);
  EXPECT_EQ(spec->cpu.pins, (std::vector<uint32_t>{1, 0}));
}

TEST(VmSpecJson, WritesWhatItReads) {
  auto spec = vm_spec_from_json(kFull);
  ASSERT_TRUE(spec.ok());
  const std::string written = vm_spec_to_json(*spec).dump();
  auto again = vm_spec_from_json(written);
  ASSERT_TRUE(again.ok()) << again.error().message << "\n" << written;
  EXPECT_EQ(vm_spec_to_json(*again).dump(), written);
  EXPECT_EQ(again->disks[0].overlay_path, spec->disks[0].overlay_path);
  EXPECT_EQ(again->nets[0].mac, spec->nets[0].mac);
  EXPECT_EQ(again->cpu, spec->cpu);
  EXPECT_EQ(again->labels, spec->labels);
}

TEST(VmSpecJson, DefaultsAreTheFlagsDefaults) {
  auto spec = vm_spec_from_json(R"({"kernel": "/k"})");
  ASSERT_TRUE(spec.ok());
  const VmSpec flags;
  EXPECT_EQ(spec->mem, flags.mem);
  EXPECT_EQ(spec->cpus, flags.cpus);
  EXPECT_EQ(spec->console, flags.console);
  EXPECT_FALSE(spec->cmdline_given);
  EXPECT_EQ(spec->cpu, CpuPolicy{});
}

TEST(VmSpecJson, MalformedDocumentsAreOneClearError) {
  struct Case {
    std::string document;
    std::string expected;
  };
  for (const Case& c : std::vector<Case>{
           {"", "not valid JSON"},
           {"[1]", "must be a JSON object"},
           {R"({"kernal": "/k"})", "unknown member \"kernal\""},
           {R"({"vcpus": "2"})", "vcpus: must be a whole number"},
           {R"({"vcpus": 0})", "vcpus: 0 is not from 1 to 254"},
           {R"({"vcpus": 1000})", "not from 1 to 254"},
           {R"({"vcpus": -1})", "vcpus: must be a whole number"},
           {R"({"vcpus": 1.5})", "vcpus: must be a whole number"},
           {R"({"rng": "yes"})", "rng: must be true or false"},
           {R"({"memory": 256})", "memory: must be a string"},
           {R"({"disks": {}})", "disks: must be a list"},
           {R"({"disks": [{"path": "/a", "readonly": true, "overlay": "/b"}]})", "disks[0]: readonly and overlay= cannot go together"},
           {R"({"disks": [{"readonly": true}]})", "disks[0]: the image path is missing"},
           {R"({"disks": [{"path": "/a", "size": 3}]})", "unknown member \"size\" in disks[0]"},
           {R"({"nets": [{"mac": "52:54:00:12:34:56"}]})", "nets[0]: tap=NAME or fd=N is required"},
           {R"({"nets": [{"fd": 2}]})", "nets[0].fd: a descriptor number from 3"},
           {R"({"nets": [{"fd": "3"}]})", "nets[0].fd: a descriptor number from 3"},
           {R"({"nets": [{"tap": "t0", "fd": 3}]})", "nets[0]: give tap= or fd=, not both"},
           {R"({"nets": [{"tap": "t", "mac": "53:54:00:12:34:56"}]})", "multicast"},
           {R"({"nets": [{"tap": "../../etc"}]})", "interface name"},
           {R"({"cpu": {"weight": 0}})", "cpu.weight: 0 is not from 1 to 10000"},
           {R"({"cpu": {"pins": "1"}})", "cpu.pins: must be a list"},
           {R"({"cpu": {"shares": 5}})", "unknown member \"shares\" in cpu"},
           {R"({"labels": {"a": 1}})", "labels.a: must be a string"},
           {std::string(300 * 1024, ' '), "larger than 256 KiB"},
       }) {
    auto spec = vm_spec_from_json(c.document);
    ASSERT_FALSE(spec.ok()) << c.document.substr(0, 80);
    EXPECT_NE(spec.error().message.find(c.expected), std::string::npos)
        << c.document.substr(0, 80) << " -> " << spec.error().message;
    EXPECT_EQ(spec.error().message.find('\n'), std::string::npos);
  }
}

TEST(VmSpecJson, NamesLabelsAndCpuPoliciesAreCheckedLikeFlags) {
  const HostFacts host{64ull << 30, "/nowhere", 2};
  auto check = [&](const std::string& document) {
    auto spec = vm_spec_from_json(document);
    if (!spec.ok()) return spec.error().message;
    auto config = make_vm_config(*spec, host);
    return config.ok() ? std::string("(ok)") : config.error().message;
  };
  const std::string kernel = R"("kernel": "/proc/self/exe")";
  EXPECT_EQ(check("{" + kernel + R"(, "name": "ok-name_1.2"})"), "(ok)");
  for (const char* name : {"../x", "a/b", ".hidden", "-dash", "", "space here", "x\n"})
    EXPECT_NE(check("{" + kernel + R"(, "name": )" + nlohmann::json(name).dump() + "}").find("name"), std::string::npos)
        << name;
  EXPECT_NE(check("{" + kernel + R"(, "name": ")" + std::string(65, 'a') + "\"}").find("1 to 64"), std::string::npos);
  EXPECT_NE(check("{" + kernel + R"(, "labels": {"Bad Key": "v"}})").find("keys are"), std::string::npos);
  EXPECT_NE(check("{" + kernel + R"(, "cpu": {"cap_percent": 150}})").find("at most 100% per vCPU"), std::string::npos);
  EXPECT_EQ(check("{" + kernel + R"(, "vcpus": 2, "cpu": {"cap_percent": 150}})"), "(ok)");
  EXPECT_NE(check("{" + kernel + R"(, "cpu": {"pins": [2]}})").find("CPUs 0 to 1"), std::string::npos);
}

}  // namespace
}  // namespace vmhive::config
