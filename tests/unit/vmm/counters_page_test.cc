// The counters file: what a VM keeps in it reads back, and what is not a
// well-formed counters file is refused (a VM writes it; a daemon reads it).
#include "control/counters_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "temp_dir.h"
#include "vmm/counters_page.h"

namespace vmhive::control {
namespace {

using vmhive::testing::TempDir;

std::vector<uint8_t> bytes_of(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

TEST(CountersFile, WhatTheVmCountsIsWhatTheDaemonReads) {
  TempDir temp;
  const std::string path = temp.file("counters");
  const CountersPage::Device devices[] = {{virtio::DeviceType::kBlock, 0}, {virtio::DeviceType::kNet, 0}};
  auto page = CountersPage::create(path, 2, devices);
  ASSERT_TRUE(page.ok()) << page.error().message;
  struct stat info {};
  ASSERT_EQ(::lstat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  page->exits(0)->io += 5;
  page->exits(1)->io += 2;
  page->exits(1)->mmio += 7;
  page->exits(0)->completed += 1;
  page->thread_id(1)->store(4242);
  page->traffic(0)->count_in(4096);
  page->traffic(0)->count_out(512);
  page->traffic(1)->count_failed();

  auto snapshot = parse_counters_file(bytes_of(path));
  ASSERT_TRUE(snapshot.ok()) << snapshot.error().message;
  EXPECT_EQ(snapshot->vcpu_threads, (std::vector<int64_t>{0, 4242}));
  const auto exits = snapshot->stats.exits;
  ASSERT_EQ(exits.size(), std::size(kCounterExitNames));
  EXPECT_EQ(exits[0], (std::pair<std::string, uint64_t>{"io", 7}));
  EXPECT_EQ(exits[1], (std::pair<std::string, uint64_t>{"mmio", 7}));
  EXPECT_EQ(exits[6], (std::pair<std::string, uint64_t>{"internal_error", 1}));
  ASSERT_EQ(snapshot->stats.devices.size(), 2u);
  EXPECT_EQ(snapshot->stats.devices[0].kind, "virtio-blk");
  EXPECT_EQ(snapshot->stats.devices[0].in_bytes, 4096u);
  EXPECT_EQ(snapshot->stats.devices[0].out_requests, 1u);
  EXPECT_EQ(snapshot->stats.devices[1].kind, "virtio-net");
  EXPECT_EQ(snapshot->stats.devices[1].failed, 1u);

  // Made new, never over a file (or a link) that is there.
  EXPECT_FALSE(CountersPage::create(path, 1, {}).ok());
  ASSERT_EQ(::symlink("/tmp/elsewhere", temp.file("link").c_str()), 0);
  EXPECT_FALSE(CountersPage::create(temp.file("link"), 1, {}).ok());
}

TEST(CountersFile, WhatIsNotOneIsRefused) {
  TempDir temp;
  const CountersPage::Device devices[] = {{virtio::DeviceType::kBlock, 0}};
  ASSERT_TRUE(CountersPage::create(temp.file("good"), 1, devices).ok());
  const std::vector<uint8_t> good = bytes_of(temp.file("good"));
  ASSERT_TRUE(parse_counters_file(good).ok());
  const auto with_word = [&](size_t index, uint64_t value) {
    std::vector<uint8_t> bytes = good;
    std::memcpy(bytes.data() + index * 8, &value, 8);
    return bytes;
  };
  EXPECT_FALSE(parse_counters_file({}).ok());
  EXPECT_FALSE(parse_counters_file(std::vector<uint8_t>(good.begin(), good.end() - 1)).ok()) << "truncated";
  EXPECT_FALSE(parse_counters_file(with_word(0, 0x1234)).ok()) << "magic";
  EXPECT_FALSE(parse_counters_file(with_word(1, 2)).ok()) << "version";
  EXPECT_FALSE(parse_counters_file(with_word(2, 0)).ok()) << "no vCPU";
  EXPECT_FALSE(parse_counters_file(with_word(2, ~0ull)).ok()) << "vCPUs out of range";
  EXPECT_FALSE(parse_counters_file(with_word(3, kMaxCounterDevices + 1)).ok()) << "devices out of range";
  EXPECT_FALSE(parse_counters_file(with_word(3, 2)).ok()) << "more devices than bytes";
  const size_t device = kCountersHeaderWords + kVcpuBlockWords;
  EXPECT_FALSE(parse_counters_file(with_word(device, 99)).ok()) << "unknown device type";
  EXPECT_FALSE(parse_counters_file(with_word(device + 1, 1000)).ok()) << "device index";
}

}  // namespace
}  // namespace vmhive::control
