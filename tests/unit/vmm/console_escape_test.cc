#include <gtest/gtest.h>

#include <string>

#include "vmm/console.h"

namespace vmhive {
namespace {

std::vector<uint8_t> bytes(const std::string& text) { return {text.begin(), text.end()}; }

TEST(ConsoleEscape, PassesOrdinaryBytes) {
  ConsoleEscape escape;
  EXPECT_EQ(escape.filter(bytes("ls -l\r")), bytes("ls -l\r"));
  EXPECT_FALSE(escape.quit_requested());
}

TEST(ConsoleEscape, CtrlAXQuits) {
  ConsoleEscape escape;
  EXPECT_EQ(escape.filter(bytes("ab\x01x")), bytes("ab"));
  EXPECT_TRUE(escape.quit_requested());
}

TEST(ConsoleEscape, EscapeSplitAcrossReads) {
  ConsoleEscape escape;
  EXPECT_TRUE(escape.filter(bytes("\x01")).empty());
  EXPECT_FALSE(escape.quit_requested());
  escape.filter(bytes("x"));
  EXPECT_TRUE(escape.quit_requested());
}

TEST(ConsoleEscape, DoubleCtrlASendsOne) {
  ConsoleEscape escape;
  EXPECT_EQ(escape.filter(bytes("\x01\x01q")), bytes("\x01q"));
  EXPECT_FALSE(escape.quit_requested());
}

}  // namespace
}  // namespace vmhive
