// Bad input to `vmhive run`: each case gets exactly one clear line on stderr
// and a non-zero exit status, never a crash or a hang.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "vm_process.h"

namespace vmhive::testing {
namespace {

using namespace std::chrono_literals;

std::string temp_file(const std::string& name, const std::string& contents) {
  std::string path = ::testing::TempDir() + "vmhive-bad-input-" + name;
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

std::string prefix_of(const std::string& path, size_t bytes) {
  std::ifstream in(path, std::ios::binary);
  std::string data(bytes, '\0');
  in.read(data.data(), static_cast<std::streamsize>(bytes));
  data.resize(static_cast<size_t>(in.gcount()));
  return data;
}

struct BadInputCase {
  std::string name;
  std::vector<std::string> args;
  std::string expected;  // a piece of the one stderr line
  int status = 1;
  bool needs_kvm = false;
};

void PrintTo(const BadInputCase& c, std::ostream* os) { *os << c.name; }

void expect_one_clear_line(const BadInputCase& c) {
  auto result = run_vmhive(c.args, 30s);
  ASSERT_TRUE(result.status.has_value()) << c.name << ": vmhive hung\n" << result.errors;
  EXPECT_EQ(*result.status, c.status) << c.name << "\n" << result.errors;
  auto lines = lines_of(result.errors);
  ASSERT_EQ(lines.size(), 1u) << c.name << ": stderr was\n" << result.errors;
  EXPECT_EQ(lines[0].rfind("vmhive: ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find(c.expected), std::string::npos) << c.name << ": '" << lines[0] << "' lacks '" << c.expected
                                                           << "'";
  EXPECT_EQ(result.output, "") << c.name;
}

class BadInput : public ::testing::TestWithParam<BadInputCase> {};

TEST_P(BadInput, OneClearLineAndNonZeroStatus) {
  if (GetParam().needs_kvm) VMHIVE_REQUIRE_KVM();
  expect_one_clear_line(GetParam());
}

std::vector<BadInputCase> option_cases() {
  const std::string hello = guest_path("hello");
  return {
      {"no_kvm_device", {"run", "--kernel", hello, "--kvm", "/nonexistent/kvm"}, "/nonexistent/kvm"},
      {"kvm_device_not_kvm", {"run", "--kernel", hello, "--kvm", "/dev/null"}, "/dev/null"},
      {"missing_kernel", {"run", "--kernel", "/nonexistent/vmlinux"}, "/nonexistent/vmlinux"},
      {"kernel_is_directory", {"run", "--kernel", "/tmp"}, "is a directory"},
      {"missing_initrd", {"run", "--kernel", hello, "--initrd", "/nonexistent/initrd"}, "/nonexistent/initrd"},
      {"mem_malformed", {"run", "--kernel", hello, "--mem", "12X"}, "--mem 12X"},
      {"mem_words", {"run", "--kernel", hello, "--mem", "lots"}, "--mem lots"},
      {"mem_too_small", {"run", "--kernel", hello, "--mem", "1M"}, "at least"},
      {"mem_not_page_multiple", {"run", "--kernel", hello, "--mem", "17001K"}, "multiple of 4 KiB"},
      {"mem_larger_than_host", {"run", "--kernel", hello, "--mem", "100T"}, "larger than this host"},
      // Numbers outside an option's range are usage errors (status 2), caught by the
      // parser before anything is opened. KVM's own vCPU limit, where it is below
      // 254, is a VMM error (status 1).
      {"cpus_zero", {"run", "--kernel", hello, "--cpus", "0"}, "--cpus: Value 0 not in range 1 to 254", 2},
      {"cpus_word", {"run", "--kernel", hello, "--cpus", "two"}, "--cpus: Value two not in range", 2},
      {"cpus_negative", {"run", "--kernel", hello, "--cpus", "-1"}, "--cpus: Value -1 not in range", 2},
      {"cpus_above_254", {"run", "--kernel", hello, "--cpus", "5000"}, "--cpus: Value 5000 not in range", 2},
      {"device_poll_too_long", {"run", "--kernel", hello, "--device-poll-us", "1000000"},
       "--device-poll-us: Value 1000000 not in range 0 to 999999", 2},
      {"restore_device_poll_negative", {"restore", "/nonexistent", "--device-poll-us", "-5"}, "--device-poll-us", 2},
      {"hold_fd_negative", {"restore", "/nonexistent", "--hold-fd", "-1"}, "--hold-fd: Value -1 not in range", 2},
      {"pool_zero", {"clone-server", "/nonexistent", "--socket", "/nonexistent/s.sock", "--pool", "0"},
       "--pool: Value 0 not in range 1 to 1024", 2},
      {"pool_too_big", {"clone-server", "/nonexistent", "--socket", "/nonexistent/s.sock", "--pool", "1025"},
       "--pool: Value 1025 not in range", 2},
      {"unknown_template", {"run", "--kernel", hello, "--cpu-template", "banana"}, "banana", 1, true},
      {"snapshot_path_not_utf8", {"snapshot", "--control", "/nonexistent/vm.sock", "/tmp/snap-\xff"},
       "not valid UTF-8"},
      {"unknown_flag", {"run", "--kernel", hello, "--frobnicate"}, "--frobnicate", 2},
      {"unknown_subcommand", {"fly"}, "fly", 2},
      {"no_subcommand", {}, "subcommand", 2},
      // The console is opened once the VM exists, after /dev/kvm.
      {"console_unwritable", {"run", "--kernel", hello, "--console", "/nonexistent/dir/console.log"},
       "/nonexistent/dir/console.log", 1, true},
  };
}

INSTANTIATE_TEST_SUITE_P(Options, BadInput, ::testing::ValuesIn(option_cases()),
                         [](const auto& test) { return test.param.name; });

// Images: these get past option checking and fail in the kernel loader.
TEST(BadImages, NotAKernel) {
  VMHIVE_REQUIRE_KVM();
  auto path = temp_file("text", "this is not a kernel, just some text\n");
  expect_one_clear_line({"text", {"run", "--kernel", path}, "neither a bzImage nor an ELF"});
}

TEST(BadImages, EmptyKernel) {
  VMHIVE_REQUIRE_KVM();
  auto path = temp_file("empty", "");
  expect_one_clear_line({"empty", {"run", "--kernel", path}, "empty"});
}

TEST(BadImages, TruncatedElf) {
  VMHIVE_REQUIRE_KVM();
  auto path = temp_file("truncated.elf", prefix_of(guest_path("hello"), 100));
  expect_one_clear_line({"truncated_elf", {"run", "--kernel", path}, path});
}

TEST(BadImages, ElfWithoutPvhNote) {
  VMHIVE_REQUIRE_KVM();
  // The vmhive binary itself: a valid ELF, but no PVH entry.
  expect_one_clear_line({"no_pvh", {"run", "--kernel", vmhive_binary()}, "PVH"});
}

TEST(BadImages, TruncatedBzImage) {
  VMHIVE_REQUIRE_KVM();
  std::string bzimage = linux_guest_dir() + "/bzImage";
  if (::access(bzimage.c_str(), R_OK) != 0) GTEST_SKIP() << "no default Linux guest at " << bzimage;
  auto path = temp_file("truncated.bzImage", prefix_of(bzimage, 64 * 1024));
  expect_one_clear_line({"truncated_bzimage", {"run", "--kernel", path}, "truncated"});
}

TEST(BadImages, InitrdThatDoesNotFit) {
  VMHIVE_REQUIRE_KVM();
  auto path = ::testing::TempDir() + "vmhive-bad-input-big-initrd";
  {
    std::ofstream big(path, std::ios::binary);
    big.seekp((40 << 20) - 1);
    big.put('\0');
  }
  expect_one_clear_line(
      {"big_initrd", {"run", "--kernel", guest_path("hello"), "--initrd", path, "--mem", "32M"}, "does not fit"});
}

}  // namespace
}  // namespace vmhive::testing
