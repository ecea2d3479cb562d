// The MC146818 real-time clock and CMOS RAM at 0x70 (index) / 0x71 (data).
// The time registers show the host's wall clock in UTC, in BCD or binary
// and 24- or 12-hour form as status register B selects. The update cycle is
// never in progress (UIP reads 0); each time register is read from the clock
// at that moment, so a guest reading across a second boundary must re-check
// the seconds, as Linux's mc146818_get_time() does.
// No periodic, alarm or update interrupts (IRQ 8 never fires); alarm
// registers keep what is written. The rest of the 128 bytes are plain RAM.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>

#include "common/result.h"
#include "devices/io_bus.h"

namespace vmhive::devices {

class CmosRtc final : public PioDevice {
 public:
  static constexpr uint16_t kBase = 0x70;
  static constexpr uint16_t kPortCount = 2;

  // `clock` returns the current time as Unix seconds; called on each time read.
  explicit CmosRtc(std::function<int64_t()> clock);
  // An RTC showing the host's wall clock (time(nullptr)).
  static CmosRtc with_host_clock();

  void read(uint16_t offset, std::span<uint8_t> data) override;
  void write(uint16_t offset, std::span<const uint8_t> data) override;

  // For snapshots. The time itself is not state: it always reads the clock.
  struct State {
    uint8_t index;
    std::array<uint8_t, 128> ram;
    int64_t frozen_time;

    template <class Codec, class Self>
    static Result<void> fields(Codec& codec, Self& self) {
      return codec.field(self.index, self.ram, self.frozen_time);
    }
  };
  State state();
  void restore(const State& state);

 private:
  uint8_t read_register(uint8_t index);
  void write_register(uint8_t index, uint8_t value);
  // A time field in the format register B selects.
  uint8_t encode(unsigned value) const;
  uint8_t encode_hours(unsigned hours) const;
  int64_t now() const;

  std::function<int64_t()> clock_;
  std::mutex mutex_;
  uint8_t index_ = 0;
  std::array<uint8_t, 128> ram_{};
  // While SET (register B bit 7) is on, the clock reads as frozen at this time.
  int64_t frozen_time_ = 0;
};

}  // namespace vmhive::devices
