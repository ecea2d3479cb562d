#include "devices/legacy/cmos_rtc.h"

#include <ctime>
#include <utility>

namespace vmhive::devices {
namespace {

// Register indices (MC146818 datasheet; 0x32 is the PC's century byte).
constexpr uint8_t kSeconds = 0x00;
constexpr uint8_t kMinutes = 0x02;
constexpr uint8_t kHours = 0x04;
constexpr uint8_t kDayOfWeek = 0x06;
constexpr uint8_t kDayOfMonth = 0x07;
constexpr uint8_t kMonth = 0x08;
constexpr uint8_t kYear = 0x09;
constexpr uint8_t kStatusA = 0x0a;
constexpr uint8_t kStatusB = 0x0b;
constexpr uint8_t kStatusC = 0x0c;
constexpr uint8_t kStatusD = 0x0d;
constexpr uint8_t kCentury = 0x32;

constexpr uint8_t kIndexMask = 0x7f;  // bit 7 of the index port is the NMI mask: not ours

constexpr uint8_t kStatusAUpdateInProgress = 0x80;
constexpr uint8_t kStatusADefault = 0x26;  // 32.768 kHz time base, 1024 Hz rate
constexpr uint8_t kStatusBSet = 0x80;
constexpr uint8_t kStatusBBinary = 0x04;
constexpr uint8_t kStatusB24Hour = 0x02;
constexpr uint8_t kStatusBDefault = kStatusB24Hour;  // BCD, 24-hour, no interrupts
constexpr uint8_t kStatusDValidRam = 0x80;
constexpr uint8_t kHoursPm = 0x80;

uint8_t to_bcd(unsigned value) { return static_cast<uint8_t>(((value / 10) << 4) | (value % 10)); }

}  // namespace

CmosRtc::CmosRtc(std::function<int64_t()> clock) : clock_(std::move(clock)) {
  ram_[kStatusA] = kStatusADefault;
  ram_[kStatusB] = kStatusBDefault;
}

CmosRtc CmosRtc::with_host_clock() {
  return CmosRtc([] { return static_cast<int64_t>(std::time(nullptr)); });
}

void CmosRtc::read(uint16_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = (offset + i) == 1 ? read_register(index_) : 0xff;  // the index port is write-only
  }
}

void CmosRtc::write(uint16_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < data.size(); ++i) {
    if (offset + i == 0) index_ = data[i] & kIndexMask;
    if (offset + i == 1) write_register(index_, data[i]);
  }
}

int64_t CmosRtc::now() const { return (ram_[kStatusB] & kStatusBSet) ? frozen_time_ : clock_(); }

uint8_t CmosRtc::encode(unsigned value) const {
  return (ram_[kStatusB] & kStatusBBinary) ? static_cast<uint8_t>(value) : to_bcd(value);
}

uint8_t CmosRtc::encode_hours(unsigned hours) const {
  if (ram_[kStatusB] & kStatusB24Hour) return encode(hours);
  unsigned twelve = hours % 12 == 0 ? 12 : hours % 12;
  return static_cast<uint8_t>(encode(twelve) | (hours >= 12 ? kHoursPm : 0));
}

uint8_t CmosRtc::read_register(uint8_t index) {
  switch (index) {
    case kSeconds:
    case kMinutes:
    case kHours:
    case kDayOfWeek:
    case kDayOfMonth:
    case kMonth:
    case kYear:
    case kCentury: {
      std::time_t seconds = static_cast<std::time_t>(now());
      std::tm utc{};
      ::gmtime_r(&seconds, &utc);
      const unsigned year = static_cast<unsigned>(utc.tm_year + 1900);
      switch (index) {
        case kSeconds: return encode(static_cast<unsigned>(utc.tm_sec));
        case kMinutes: return encode(static_cast<unsigned>(utc.tm_min));
        case kHours: return encode_hours(static_cast<unsigned>(utc.tm_hour));
        case kDayOfWeek: return encode(static_cast<unsigned>(utc.tm_wday) + 1);  // 1 is Sunday
        case kDayOfMonth: return encode(static_cast<unsigned>(utc.tm_mday));
        case kMonth: return encode(static_cast<unsigned>(utc.tm_mon) + 1);
        case kYear: return encode(year % 100);
        default: return encode(year / 100);
      }
    }
    case kStatusA: return static_cast<uint8_t>(ram_[kStatusA] & ~kStatusAUpdateInProgress);
    case kStatusC: return 0;  // no interrupt flags: none are ever raised
    case kStatusD: return kStatusDValidRam;
    default: return ram_[index];
  }
}

void CmosRtc::write_register(uint8_t index, uint8_t value) {
  switch (index) {
    case kSeconds:
    case kMinutes:
    case kHours:
    case kDayOfWeek:
    case kDayOfMonth:
    case kMonth:
    case kYear:
    case kCentury:
      // Setting the clock would move the guest's time away from the host's;
      // the guest's wall clock stays the host's (as with kvmclock).
      return;
    case kStatusA: ram_[kStatusA] = static_cast<uint8_t>(value & ~kStatusAUpdateInProgress); return;
    case kStatusB:
      if ((value & kStatusBSet) && !(ram_[kStatusB] & kStatusBSet)) frozen_time_ = clock_();
      ram_[kStatusB] = value;
      return;
    case kStatusC:
    case kStatusD: return;  // read-only
    default: ram_[index] = value;
  }
}

CmosRtc::State CmosRtc::state() {
  std::lock_guard lock(mutex_);
  return State{index_, ram_, frozen_time_};
}

void CmosRtc::restore(const State& state) {
  std::lock_guard lock(mutex_);
  index_ = state.index;
  ram_ = state.ram;
  frozen_time_ = state.frozen_time;
}

}  // namespace vmhive::devices
