// Log lines a guest can cause: a burst per window goes out, the rest is
// counted, and the count is told with the next line out (or at the end).
#include "common/rate_limited_log.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vmhive {
namespace {

using namespace std::chrono_literals;

TEST(RateLimitedLog, ABurstPerWindowThenACount) {
  std::vector<std::string> lines;
  RateLimitedLog::Clock::time_point now{};
  {
    RateLimitedLog log(3, 60s, [&](const std::string& line) { lines.push_back(line); }, [&] { return now; });
    for (int i = 0; i < 10; ++i) log.write("device failed " + std::to_string(i));
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[0], "vmhive: device failed 0\n");
    EXPECT_EQ(log.suppressed_total(), 7u);
    now += 61s;  // a new window
    log.write("device failed again");
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_EQ(lines[3], "vmhive: device failed again (7 similar lines held back before this one)\n");
    log.write("x");
    log.write("y");
    log.write("z");  // over the burst again, held back until the end
  }
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_EQ(lines[6], "vmhive: 1 lines held back, the last: z\n");
}

TEST(RateLimitedLog, NothingHeldBackSaysNothingAtTheEnd) {
  std::vector<std::string> lines;
  {
    RateLimitedLog log(5, 60s, [&](const std::string& line) { lines.push_back(line); });
    log.write("once");
  }
  EXPECT_EQ(lines, std::vector<std::string>{"vmhive: once\n"});
}

}  // namespace
}  // namespace vmhive
