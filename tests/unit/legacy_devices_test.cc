// The legacy PC devices and the port bus, driven through their ports as a guest would.
#include <gtest/gtest.h>

#include <ctime>
#include <optional>
#include <vector>

#include "devices/io_bus.h"
#include "devices/legacy/acpi_sleep_control.h"
#include "devices/legacy/cmos_rtc.h"
#include "devices/legacy/debug_exit.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/post_code_port.h"
#include "devices/legacy/uart_8250.h"

namespace vmhive::devices {
namespace {

uint8_t in8(PioDevice& device, uint16_t offset) {
  uint8_t value = 0;
  device.read(offset, std::span(&value, 1));
  return value;
}
void out8(PioDevice& device, uint16_t offset, uint8_t value) { device.write(offset, std::span(&value, 1)); }

struct StopRecorder {
  std::vector<StopRequest> requests;
  StopCallback callback() {
    return [this](const StopRequest& request) { requests.push_back(request); };
  }
};

// ---- I/O bus ----

class Recorder final : public PioDevice {
 public:
  void read(uint16_t offset, std::span<uint8_t> data) override {
    calls.push_back({offset, data.size()});
    for (auto& byte : data) byte = static_cast<uint8_t>(offset);
  }
  void write(uint16_t offset, std::span<const uint8_t> data) override { calls.push_back({offset, data.size()}); }
  std::vector<std::pair<uint16_t, size_t>> calls;
};

TEST(IoBus, RejectsBadRanges) {
  Recorder a, b;
  IoBus bus;
  EXPECT_TRUE(bus.add(0x3f8, 8, &a).ok());
  EXPECT_FALSE(bus.add(0x3fc, 8, &b).ok());  // overlap
  EXPECT_FALSE(bus.add(0x3f0, 9, &b).ok());  // overlap at the start
  EXPECT_FALSE(bus.add(0x100, 0, &b).ok());
  EXPECT_FALSE(bus.add(0xfff0, 0x20, &b).ok());
  EXPECT_FALSE(bus.add(0x200, 1, nullptr).ok());
  EXPECT_TRUE(bus.add(0x3f0, 8, &b).ok());  // adjacent is fine
}

TEST(IoBus, RoutesWithOffsetsAndSplitsStraddlingAccesses) {
  Recorder device;
  IoBus bus;
  ASSERT_TRUE(bus.add(0x70, 2, &device).ok());
  uint8_t one = 0;
  bus.read(0x71, std::span(&one, 1));
  EXPECT_EQ(one, 1);
  uint8_t four[4];
  bus.read(0x70, four);  // 0x70-0x71 claimed, 0x72-0x73 not
  EXPECT_EQ(four[0], 0);
  EXPECT_EQ(four[1], 1);
  EXPECT_EQ(four[2], 0xff);
  EXPECT_EQ(four[3], 0xff);
  uint8_t two[2] = {1, 2};
  bus.write(0x70, two);
  EXPECT_EQ(device.calls.back(), (std::pair<uint16_t, size_t>{0, 2}));
}

// ---- UART ----

struct UartHarness {
  std::vector<uint8_t> output;
  std::vector<bool> irq_levels;
  Uart8250 uart{[this](uint8_t byte) { output.push_back(byte); }, [this](bool level) { irq_levels.push_back(level); }};
  bool irq() const { return !irq_levels.empty() && irq_levels.back(); }
};

constexpr uint16_t kThr = 0, kIer = 1, kIir = 2, kFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6, kScratch = 7;

TEST(Uart8250, TransmitsImmediately) {
  UartHarness h;
  out8(h.uart, kThr, 'A');
  out8(h.uart, kThr, 'B');
  EXPECT_EQ(h.output, (std::vector<uint8_t>{'A', 'B'}));
  EXPECT_EQ(in8(h.uart, kLsr) & 0x60, 0x60);  // THRE and TEMT
}

TEST(Uart8250, TransmitterEmptyInterrupt) {
  UartHarness h;
  EXPECT_FALSE(h.irq());
  out8(h.uart, kIer, 0x02);  // ETBEI
  EXPECT_TRUE(h.irq());
  EXPECT_EQ(in8(h.uart, kIir) & 0x0f, 0x02);  // THR empty is the source
  EXPECT_FALSE(h.irq());                      // reading IIR cleared it
  EXPECT_EQ(in8(h.uart, kIir) & 0x01, 0x01);  // nothing pending
  out8(h.uart, kThr, 'x');
  EXPECT_TRUE(h.irq());  // emptied again
}

TEST(Uart8250, ReceivesInOrderWithDataReadyAndInterrupt) {
  UartHarness h;
  out8(h.uart, kIer, 0x01);  // ERBFI
  const uint8_t input[] = {'h', 'i'};
  EXPECT_EQ(h.uart.enqueue_input(input), 2u);
  EXPECT_TRUE(h.irq());
  EXPECT_EQ(in8(h.uart, kIir) & 0x0f, 0x04);
  EXPECT_EQ(in8(h.uart, kLsr) & 0x01, 0x01);
  EXPECT_EQ(in8(h.uart, kThr), 'h');
  EXPECT_EQ(in8(h.uart, kThr), 'i');
  EXPECT_EQ(in8(h.uart, kLsr) & 0x01, 0);
  EXPECT_FALSE(h.irq());
}

TEST(Uart8250, InputStopsWhenTheFifoIsFull) {
  UartHarness h;
  std::vector<uint8_t> lots(Uart8250::kInputCapacity + 10, 'z');
  EXPECT_EQ(h.uart.enqueue_input(lots), Uart8250::kInputCapacity);
  EXPECT_FALSE(h.uart.can_accept_input());
  EXPECT_EQ(h.uart.enqueue_input(lots), 0u);
  in8(h.uart, kThr);
  EXPECT_EQ(h.uart.enqueue_input(lots), 1u);
}

TEST(Uart8250, DivisorLatchAndScratch) {
  UartHarness h;
  out8(h.uart, kLcr, 0x80);  // DLAB
  out8(h.uart, 0, 0x01);
  out8(h.uart, 1, 0x00);
  EXPECT_EQ(in8(h.uart, 0), 0x01);
  out8(h.uart, kLcr, 0x03);
  EXPECT_TRUE(h.output.empty());  // divisor writes are not output
  out8(h.uart, kScratch, 0x5a);
  EXPECT_EQ(in8(h.uart, kScratch), 0x5a);
  EXPECT_EQ(in8(h.uart, kLcr), 0x03);
}

TEST(Uart8250, LoopbackAsLinuxProbesIt) {
  UartHarness h;
  out8(h.uart, kMcr, 0x10 | 0x0a);  // loopback, RTS, OUT2
  // In loopback, MSR's upper bits mirror MCR: RTS->CTS (bit 4), OUT2->DCD (bit 7).
  EXPECT_EQ(in8(h.uart, kMsr) & 0xf0, 0x90);
  out8(h.uart, kThr, 'L');
  EXPECT_TRUE(h.output.empty());
  EXPECT_EQ(in8(h.uart, kThr), 'L');
  const uint8_t input[] = {'x'};
  EXPECT_EQ(h.uart.enqueue_input(input), 0u);  // the line is cut off in loopback
  out8(h.uart, kMcr, 0x0b);
  EXPECT_EQ(in8(h.uart, kMsr) & 0xb0, 0xb0);  // a connected line: DCD, DSR, CTS
}

TEST(Uart8250, FifoControlClearsTheReceiver) {
  UartHarness h;
  out8(h.uart, kFcr, 0x01);
  const uint8_t input[] = {'a', 'b'};
  h.uart.enqueue_input(input);
  out8(h.uart, kFcr, 0x03);  // enable + clear receive FIFO
  EXPECT_EQ(in8(h.uart, kLsr) & 0x01, 0);
  EXPECT_EQ(in8(h.uart, kIir) & 0xc0, 0xc0);  // FIFOs enabled
}

// ---- CMOS RTC ----

// 2026-11-24 13:45:07 UTC, a Tuesday.
constexpr int64_t kFixedTime = 1795527907;

uint8_t rtc_read(CmosRtc& rtc, uint8_t index) {
  out8(rtc, 0, index);
  return in8(rtc, 1);
}

TEST(CmosRtc, FixedClockIsRight) {
  std::time_t t = kFixedTime;
  std::tm utc{};
  gmtime_r(&t, &utc);
  ASSERT_EQ(utc.tm_year + 1900, 2026);
  ASSERT_EQ(utc.tm_hour, 13);
  ASSERT_EQ(utc.tm_wday, 2);
}

TEST(CmosRtc, BcdTwentyFourHourByDefault) {
  CmosRtc rtc([] { return kFixedTime; });
  EXPECT_EQ(rtc_read(rtc, 0x00), 0x07);
  EXPECT_EQ(rtc_read(rtc, 0x02), 0x45);
  EXPECT_EQ(rtc_read(rtc, 0x04), 0x13);
  EXPECT_EQ(rtc_read(rtc, 0x06), 0x03);  // Tuesday: Sunday is 1
  EXPECT_EQ(rtc_read(rtc, 0x07), 0x24);
  EXPECT_EQ(rtc_read(rtc, 0x08), 0x11);
  EXPECT_EQ(rtc_read(rtc, 0x09), 0x26);
  EXPECT_EQ(rtc_read(rtc, 0x32), 0x20);
  EXPECT_EQ(rtc_read(rtc, 0x0a) & 0x80, 0);  // never mid-update
  EXPECT_EQ(rtc_read(rtc, 0x0d), 0x80);      // valid RAM and time
}

TEST(CmosRtc, BinaryAndTwelveHourModes) {
  CmosRtc rtc([] { return kFixedTime; });
  out8(rtc, 0, 0x0b);
  out8(rtc, 1, 0x06);  // binary, 24-hour
  EXPECT_EQ(rtc_read(rtc, 0x02), 45);
  EXPECT_EQ(rtc_read(rtc, 0x09), 26);
  out8(rtc, 0, 0x0b);
  out8(rtc, 1, 0x00);  // BCD, 12-hour
  EXPECT_EQ(rtc_read(rtc, 0x04), 0x81);  // 1 PM
}

TEST(CmosRtc, NmiBitIgnoredAndRamKept) {
  CmosRtc rtc([] { return kFixedTime; });
  EXPECT_EQ(rtc_read(rtc, 0x80 | 0x02), 0x45);
  out8(rtc, 0, 0x40);
  out8(rtc, 1, 0xa5);
  EXPECT_EQ(rtc_read(rtc, 0x40), 0xa5);
  out8(rtc, 0, 0x00);
  out8(rtc, 1, 0x59);  // the guest cannot move the clock
  EXPECT_EQ(rtc_read(rtc, 0x00), 0x07);
}

TEST(CmosRtc, SetBitFreezesTheClock) {
  int64_t now = kFixedTime;
  CmosRtc rtc([&] { return now; });
  out8(rtc, 0, 0x0b);
  out8(rtc, 1, 0x82);
  now += 10;
  EXPECT_EQ(rtc_read(rtc, 0x00), 0x07);
  out8(rtc, 0, 0x0b);
  out8(rtc, 1, 0x02);
  EXPECT_EQ(rtc_read(rtc, 0x00), 0x17);
}

// ---- i8042, sleep control, debug exit, POST ----

TEST(I8042, ResetCommandStopsWithReset) {
  StopRecorder stops;
  I8042 controller(stops.callback());
  EXPECT_EQ(in8(controller, 4) & 0x02, 0);  // input buffer empty: Linux's kb_wait passes
  out8(controller, 4, 0xfe);
  ASSERT_EQ(stops.requests.size(), 1u);
  EXPECT_EQ(stops.requests[0].reason, StopReason::kReset);
}

TEST(I8042, ControllerCommands) {
  StopRecorder stops;
  I8042 controller(stops.callback());
  out8(controller, 4, 0xaa);
  EXPECT_EQ(in8(controller, 4) & 0x01, 0x01);
  EXPECT_EQ(in8(controller, 0), 0x55);
  EXPECT_EQ(in8(controller, 4) & 0x01, 0);
  out8(controller, 4, 0x60);
  out8(controller, 0, 0x47);
  out8(controller, 4, 0x20);
  EXPECT_EQ(in8(controller, 0), 0x47);
  out8(controller, 4, 0xd1);
  out8(controller, 0, 0x03);  // reset line stays high
  EXPECT_TRUE(stops.requests.empty());
  out8(controller, 4, 0xd1);
  out8(controller, 0, 0x02);  // reset line low
  ASSERT_EQ(stops.requests.size(), 1u);
  EXPECT_EQ(stops.requests[0].reason, StopReason::kReset);
}

TEST(AcpiSleepControl, SoftOffPowersOff) {
  StopRecorder stops;
  AcpiSleepControl sleep(stops.callback());
  out8(sleep, 0, (3 << 2) | 0x20);  // S3: not offered, ignored
  out8(sleep, 0, 5 << 2);           // S5 without SLP_EN
  out8(sleep, 1, 0x34);             // the status register
  EXPECT_TRUE(stops.requests.empty());
  EXPECT_EQ(in8(sleep, 1), 0);
  out8(sleep, 0, 0x34);
  ASSERT_EQ(stops.requests.size(), 1u);
  EXPECT_EQ(stops.requests[0].reason, StopReason::kPowerOff);
}

TEST(DebugExit, WritesStopWithTheCode) {
  StopRecorder stops;
  DebugExit port(stops.callback());
  EXPECT_EQ(in8(port, 0), 0xff);
  out8(port, 0, 7);
  ASSERT_EQ(stops.requests.size(), 1u);
  EXPECT_EQ(stops.requests[0].reason, StopReason::kDebugExit);
  EXPECT_EQ(stops.requests[0].debug_exit_code, 7);
}

TEST(PostCodePort, RemembersTheLastCode) {
  PostCodePort port;
  out8(port, 0, 0x42);
  EXPECT_EQ(port.last_code(), 0x42);
  EXPECT_EQ(in8(port, 0), 0x42);
}

}  // namespace
}  // namespace vmhive::devices
