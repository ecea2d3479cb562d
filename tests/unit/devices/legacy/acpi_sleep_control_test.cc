// The hardware-reduced ACPI sleep registers (ACPI 6.5 §4.8.3.7).
#include "devices/legacy/acpi_sleep_control.h"

#include <gtest/gtest.h>

#include "pio_test_support.h"

namespace vmhive::devices {
namespace {

using pio_test::in8;
using pio_test::out8;
using pio_test::StopRecorder;

constexpr uint16_t kControl = 0;
constexpr uint16_t kStatus = 1;
constexpr uint8_t kSleepEnable = 0x20;

constexpr uint8_t sleep_type(uint8_t type) { return static_cast<uint8_t>(type << 2); }

TEST(AcpiSleepControl, SoftOffPowersOff) {
  StopRecorder stops;
  AcpiSleepControl sleep(stops.callback());
  out8(sleep, kControl, 0x34);  // SLP_EN | SLP_TYP 5, as Linux writes it for \_S5_
  ASSERT_EQ(stops.requests.size(), 1u);
  EXPECT_EQ(stops.requests[0].reason, StopReason::kPowerOff);
  EXPECT_EQ(sleep_type(AcpiSleepControl::kSoftOffSleepType) | kSleepEnable, 0x34);
}

TEST(AcpiSleepControl, OtherRequestsAreIgnored) {
  StopRecorder stops;
  AcpiSleepControl sleep(stops.callback());
  out8(sleep, kControl, kSleepEnable | sleep_type(3));  // S3: not offered
  out8(sleep, kControl, kSleepEnable | sleep_type(0));  // S0
  out8(sleep, kControl, sleep_type(5));                 // S5 without SLP_EN
  out8(sleep, kStatus, 0x34);                           // the status register
  out8(sleep, kStatus, 0xff);
  EXPECT_TRUE(stops.requests.empty());
}

TEST(AcpiSleepControl, RegistersReadZero) {
  StopRecorder stops;
  AcpiSleepControl sleep(stops.callback());
  out8(sleep, kStatus, 0x80);  // writing WAK_STS sets nothing
  EXPECT_EQ(in8(sleep, kStatus), 0);
  EXPECT_EQ(in8(sleep, kControl), 0);
}

TEST(AcpiSleepControl, WordWriteUsesTheControlByte) {
  StopRecorder stops;
  AcpiSleepControl sleep(stops.callback());
  const uint8_t word[2] = {0x34, 0x00};
  sleep.write(kControl, word);
  ASSERT_EQ(stops.requests.size(), 1u);
  EXPECT_EQ(stops.requests[0].reason, StopReason::kPowerOff);
}

}  // namespace
}  // namespace vmhive::devices
