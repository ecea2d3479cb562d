// The MC146818 RTC and CMOS RAM, with an injected clock.
#include "devices/legacy/cmos_rtc.h"

#include <gtest/gtest.h>

#include <ctime>

#include "pio_test_support.h"

namespace vmhive::devices {
namespace {

using pio_test::in8;
using pio_test::out8;

// 2026-11-24 13:45:07 UTC, a Tuesday.
constexpr int64_t kFixedTime = 1795527907;
// 1999-12-31 23:59:59 UTC, a Friday.
constexpr int64_t kLastSecondOf1999 = 946684799;

constexpr uint8_t kSeconds = 0x00, kSecondsAlarm = 0x01, kMinutes = 0x02, kMinutesAlarm = 0x03, kHours = 0x04,
                  kHoursAlarm = 0x05, kDayOfWeek = 0x06, kDayOfMonth = 0x07, kMonth = 0x08, kYear = 0x09,
                  kStatusA = 0x0a, kStatusB = 0x0b, kStatusC = 0x0c, kStatusD = 0x0d, kCentury = 0x32;
constexpr uint8_t kNmiMask = 0x80;

uint8_t rtc_read(CmosRtc& rtc, uint8_t index) {
  out8(rtc, 0, index);
  return in8(rtc, 1);
}

void rtc_write(CmosRtc& rtc, uint8_t index, uint8_t value) {
  out8(rtc, 0, index);
  out8(rtc, 1, value);
}

TEST(CmosRtc, FixedClockIsWhatTheTestsSay) {
  std::time_t t = kFixedTime;
  std::tm utc{};
  ASSERT_NE(gmtime_r(&t, &utc), nullptr);
  EXPECT_EQ(utc.tm_year + 1900, 2026);
  EXPECT_EQ(utc.tm_mon + 1, 11);
  EXPECT_EQ(utc.tm_mday, 24);
  EXPECT_EQ(utc.tm_hour, 13);
  EXPECT_EQ(utc.tm_min, 45);
  EXPECT_EQ(utc.tm_sec, 7);
  EXPECT_EQ(utc.tm_wday, 2);
}

TEST(CmosRtc, BcdTwentyFourHourByDefault) {
  CmosRtc rtc([] { return kFixedTime; });
  EXPECT_EQ(rtc_read(rtc, kStatusB), 0x02);
  EXPECT_EQ(rtc_read(rtc, kSeconds), 0x07);
  EXPECT_EQ(rtc_read(rtc, kMinutes), 0x45);
  EXPECT_EQ(rtc_read(rtc, kHours), 0x13);
  EXPECT_EQ(rtc_read(rtc, kDayOfWeek), 0x03);  // Sunday is 1
  EXPECT_EQ(rtc_read(rtc, kDayOfMonth), 0x24);
  EXPECT_EQ(rtc_read(rtc, kMonth), 0x11);
  EXPECT_EQ(rtc_read(rtc, kYear), 0x26);
  EXPECT_EQ(rtc_read(rtc, kCentury), 0x20);
}

TEST(CmosRtc, CenturyAndYearBefore2000) {
  CmosRtc rtc([] { return kLastSecondOf1999; });
  EXPECT_EQ(rtc_read(rtc, kCentury), 0x19);
  EXPECT_EQ(rtc_read(rtc, kYear), 0x99);
  EXPECT_EQ(rtc_read(rtc, kMonth), 0x12);
  EXPECT_EQ(rtc_read(rtc, kDayOfMonth), 0x31);
  EXPECT_EQ(rtc_read(rtc, kDayOfWeek), 0x06);  // Friday
  EXPECT_EQ(rtc_read(rtc, kHours), 0x23);
  EXPECT_EQ(rtc_read(rtc, kSeconds), 0x59);
}

TEST(CmosRtc, BinaryMode) {
  CmosRtc rtc([] { return kFixedTime; });
  rtc_write(rtc, kStatusB, 0x06);  // DM binary, 24-hour
  EXPECT_EQ(rtc_read(rtc, kStatusB), 0x06);
  EXPECT_EQ(rtc_read(rtc, kSeconds), 7);
  EXPECT_EQ(rtc_read(rtc, kMinutes), 45);
  EXPECT_EQ(rtc_read(rtc, kHours), 13);
  EXPECT_EQ(rtc_read(rtc, kDayOfWeek), 3);
  EXPECT_EQ(rtc_read(rtc, kDayOfMonth), 24);
  EXPECT_EQ(rtc_read(rtc, kMonth), 11);
  EXPECT_EQ(rtc_read(rtc, kYear), 26);
  EXPECT_EQ(rtc_read(rtc, kCentury), 20);
}

TEST(CmosRtc, TwelveHourMode) {
  int64_t now = kFixedTime;
  CmosRtc rtc([&] { return now; });
  rtc_write(rtc, kStatusB, 0x00);  // BCD, 12-hour
  EXPECT_EQ(rtc_read(rtc, kHours), 0x81);  // 1 PM
  rtc_write(rtc, kStatusB, 0x04);  // binary, 12-hour
  EXPECT_EQ(rtc_read(rtc, kHours), 0x81);
  rtc_write(rtc, kStatusB, 0x00);
  now = kFixedTime - (13 * 3600 + 45 * 60 + 7);  // 00:00:00
  EXPECT_EQ(rtc_read(rtc, kHours), 0x12);        // 12 AM
  now += 12 * 3600;                              // 12:00:00
  EXPECT_EQ(rtc_read(rtc, kHours), 0x92);        // 12 PM
  now += 11 * 3600;                              // 23:00:00
  EXPECT_EQ(rtc_read(rtc, kHours), 0x91);        // 11 PM
  now -= 12 * 3600;                              // 11:00:00
  EXPECT_EQ(rtc_read(rtc, kHours), 0x11);        // 11 AM
}

TEST(CmosRtc, FollowsTheClock) {
  int64_t now = kFixedTime;
  CmosRtc rtc([&] { return now; });
  now += 60;
  EXPECT_EQ(rtc_read(rtc, kMinutes), 0x46);
  now += 15 * 60;
  EXPECT_EQ(rtc_read(rtc, kHours), 0x14);
  EXPECT_EQ(rtc_read(rtc, kMinutes), 0x01);
}

TEST(CmosRtc, StatusRegisters) {
  CmosRtc rtc([] { return kFixedTime; });
  EXPECT_EQ(rtc_read(rtc, kStatusA), 0x26);
  rtc_write(rtc, kStatusA, 0xa6);  // UIP is read-only
  EXPECT_EQ(rtc_read(rtc, kStatusA), 0x26);
  rtc_write(rtc, kStatusA, 0x2f);  // rate bits are the guest's
  EXPECT_EQ(rtc_read(rtc, kStatusA), 0x2f);
  rtc_write(rtc, kStatusC, 0xff);
  EXPECT_EQ(rtc_read(rtc, kStatusC), 0);  // no interrupt flags ever
  rtc_write(rtc, kStatusD, 0x00);
  EXPECT_EQ(rtc_read(rtc, kStatusD), 0x80);  // valid RAM and time, bit 6 clear
}

TEST(CmosRtc, SetBitFreezesTheClock) {
  int64_t now = kFixedTime;
  CmosRtc rtc([&] { return now; });
  rtc_write(rtc, kStatusB, 0x82);
  now += 10;
  EXPECT_EQ(rtc_read(rtc, kSeconds), 0x07);
  rtc_write(rtc, kStatusB, 0x82);  // still set: still the first freeze
  EXPECT_EQ(rtc_read(rtc, kSeconds), 0x07);
  rtc_write(rtc, kStatusB, 0x02);
  EXPECT_EQ(rtc_read(rtc, kSeconds), 0x17);
}

TEST(CmosRtc, GuestCannotMoveTheClock) {
  CmosRtc rtc([] { return kFixedTime; });
  rtc_write(rtc, kSeconds, 0x59);
  rtc_write(rtc, kYear, 0x99);
  rtc_write(rtc, kCentury, 0x19);
  EXPECT_EQ(rtc_read(rtc, kSeconds), 0x07);
  EXPECT_EQ(rtc_read(rtc, kYear), 0x26);
  EXPECT_EQ(rtc_read(rtc, kCentury), 0x20);
}

TEST(CmosRtc, AlarmRegistersKeepWhatIsWritten) {
  CmosRtc rtc([] { return kFixedTime; });
  rtc_write(rtc, kSecondsAlarm, 0x30);
  rtc_write(rtc, kMinutesAlarm, 0xc0);  // "don't care"
  rtc_write(rtc, kHoursAlarm, 0x12);
  EXPECT_EQ(rtc_read(rtc, kSecondsAlarm), 0x30);
  EXPECT_EQ(rtc_read(rtc, kMinutesAlarm), 0xc0);
  EXPECT_EQ(rtc_read(rtc, kHoursAlarm), 0x12);
}

TEST(CmosRtc, CmosRamReadsBack) {
  CmosRtc rtc([] { return kFixedTime; });
  for (unsigned index = 0x0e; index < 0x80; ++index) {
    if (index == kCentury) continue;
    rtc_write(rtc, static_cast<uint8_t>(index), static_cast<uint8_t>(index ^ 0x5a));
  }
  for (unsigned index = 0x0e; index < 0x80; ++index) {
    if (index == kCentury) continue;
    EXPECT_EQ(rtc_read(rtc, static_cast<uint8_t>(index)), index ^ 0x5a) << "index " << index;
  }
}

TEST(CmosRtc, NmiMaskBitOfTheIndexIsIgnored) {
  CmosRtc rtc([] { return kFixedTime; });
  EXPECT_EQ(rtc_read(rtc, kNmiMask | kMinutes), 0x45);
  rtc_write(rtc, kNmiMask | 0x40, 0xa5);
  EXPECT_EQ(rtc_read(rtc, 0x40), 0xa5);
  EXPECT_EQ(rtc_read(rtc, kNmiMask | kStatusD), 0x80);
}

TEST(CmosRtc, IndexPortIsWriteOnly) {
  CmosRtc rtc([] { return kFixedTime; });
  out8(rtc, 0, kMinutes);
  EXPECT_EQ(in8(rtc, 0), 0xff);
  EXPECT_EQ(in8(rtc, 1), 0x45);  // the index survived the read
}

TEST(CmosRtc, WordWriteSetsIndexThenData) {
  CmosRtc rtc([] { return kFixedTime; });
  const uint8_t index_and_value[2] = {0x50, 0x3c};
  rtc.write(0, index_and_value);
  EXPECT_EQ(rtc_read(rtc, 0x50), 0x3c);
}

TEST(CmosRtc, HostClockShowsThisYear) {
  CmosRtc rtc = CmosRtc::with_host_clock();
  rtc_write(rtc, kStatusB, 0x06);  // binary
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  EXPECT_EQ(rtc_read(rtc, kCentury) * 100 + rtc_read(rtc, kYear), utc.tm_year + 1900);
}

}  // namespace
}  // namespace vmhive::devices
