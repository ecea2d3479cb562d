#include "common/background_sync.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

namespace vmhive {
namespace {

UniqueFd temp_file(std::string& path) {
  path = ::testing::TempDir() + "background-sync-XXXXXX";
  UniqueFd fd(::mkstemp(path.data()));
  return fd;
}

TEST(BackgroundSync, SyncsWhatItIsHandedAndSaysWhatFailed) {
  std::string path;
  UniqueFd file = temp_file(path);
  ASSERT_TRUE(file.valid());
  ASSERT_EQ(::write(file.get(), "x", 1), 1);
  int pipe_ends[2];
  ASSERT_EQ(::pipe2(pipe_ends, O_CLOEXEC), 0);
  UniqueFd read_end(pipe_ends[0]), write_end(pipe_ends[1]);

  BackgroundSync syncer;
  std::vector<UniqueFd> good;
  good.push_back(std::move(file));
  syncer.sync_later(std::move(good), "a file");
  std::vector<UniqueFd> bad;  // a pipe cannot be synced: EINVAL
  bad.push_back(std::move(read_end));
  syncer.sync_later(std::move(bad), "a pipe");
  syncer.drain();
  const auto failures = syncer.take_failures();
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].what, "a pipe");
  EXPECT_NE(failures[0].reason.find("fsync failed"), std::string::npos) << failures[0].reason;
  EXPECT_TRUE(syncer.take_failures().empty()) << "failures are handed out once";
  ::unlink(path.c_str());
}

// drain() waits for every batch handed over before it, done in order.
TEST(BackgroundSync, DrainWaitsForEveryBatchInOrder) {
  BackgroundSync syncer;
  std::vector<UniqueFd> keep_writers;
  for (int i = 0; i < 50; ++i) {
    int pipe_ends[2];
    ASSERT_EQ(::pipe2(pipe_ends, O_CLOEXEC), 0);
    keep_writers.emplace_back(pipe_ends[1]);
    std::vector<UniqueFd> fds;
    fds.emplace_back(pipe_ends[0]);  // fails, so each batch leaves a trace
    syncer.sync_later(std::move(fds), "batch " + std::to_string(i));
  }
  syncer.drain();
  const auto failures = syncer.take_failures();
  ASSERT_EQ(failures.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(failures[i].what, "batch " + std::to_string(i));
}

}  // namespace
}  // namespace vmhive
