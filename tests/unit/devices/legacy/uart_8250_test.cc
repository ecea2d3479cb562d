// The 16550A model, driven through its registers as Linux's 8250 driver does.
#include "devices/legacy/uart_8250.h"

#include <gtest/gtest.h>

#include <vector>

#include "devices/legacy/uart_8250_registers.h"
#include "pio_test_support.h"

namespace vmhive::devices {
namespace {

using namespace uart;
using pio_test::in8;
using pio_test::out8;

struct UartHarness {
  std::vector<uint8_t> output;
  std::vector<bool> irq_levels;  // every level the UART drove, in order
  Uart8250 uart{[this](uint8_t byte) { output.push_back(byte); }, [this](bool level) { irq_levels.push_back(level); }};

  bool irq() const { return !irq_levels.empty() && irq_levels.back(); }
  uint8_t in(uint16_t offset) { return in8(uart, offset); }
  void out(uint16_t offset, uint8_t value) { out8(uart, offset, value); }
};

TEST(Uart8250, ThrOutputGoesToTheSink) {
  UartHarness h;
  h.out(kRbrThr, 'A');
  h.out(kRbrThr, 'B');
  EXPECT_EQ(h.output, (std::vector<uint8_t>{'A', 'B'}));
  EXPECT_EQ(h.in(kLsr) & (kLsrThrEmpty | kLsrTransmitterEmpty), kLsrThrEmpty | kLsrTransmitterEmpty);
  EXPECT_EQ(h.in(kLsr) & kLsrDataReady, 0);
}

TEST(Uart8250, WideWriteReachesConsecutiveRegisters) {
  UartHarness h;
  const uint8_t bytes[2] = {'x', kIerReceivedData};  // THR then IER
  h.uart.write(kRbrThr, bytes);
  EXPECT_EQ(h.output, (std::vector<uint8_t>{'x'}));
  EXPECT_EQ(h.in(kIer), kIerReceivedData);
}

TEST(Uart8250, NoInterruptUntilEnabled) {
  UartHarness h;
  h.out(kRbrThr, 'a');
  const uint8_t input[] = {'b'};
  EXPECT_EQ(h.uart.enqueue_input(input), 1u);
  EXPECT_TRUE(h.irq_levels.empty());
  EXPECT_EQ(h.in(kIirFcr) & 0x0f, kIirNoInterrupt);
}

TEST(Uart8250, ThrEmptyInterruptRaisedByEtbeiAndClearedByIirRead) {
  UartHarness h;
  h.out(kIer, kIerThrEmpty);
  EXPECT_TRUE(h.irq());
  EXPECT_EQ(h.in(kIirFcr) & 0x0f, kIirThrEmpty);
  EXPECT_FALSE(h.irq());  // reading IIR acknowledged it
  EXPECT_EQ(h.in(kIirFcr) & 0x0f, kIirNoInterrupt);
  h.out(kRbrThr, 'x');  // THR empties again at once
  EXPECT_TRUE(h.irq());
  h.out(kIer, 0);
  EXPECT_FALSE(h.irq());
  // Linux's THRE test: re-enabling ETBEI with THR empty raises THRE again.
  h.out(kIer, kIerThrEmpty);
  EXPECT_EQ(h.in(kIirFcr) & 0x0f, kIirThrEmpty);
  h.out(kIer, 0);
  h.out(kIer, kIerThrEmpty);
  EXPECT_EQ(h.in(kIirFcr) & 0x0f, kIirThrEmpty);
}

TEST(Uart8250, IrqCallbackSeesOnlyLevelChanges) {
  UartHarness h;
  h.out(kIer, kIerThrEmpty | kIerReceivedData);
  h.out(kIer, kIerThrEmpty | kIerReceivedData);  // no new edge
  const uint8_t input[] = {'a'};
  h.uart.enqueue_input(input);                   // still high
  EXPECT_EQ(h.irq_levels, (std::vector<bool>{true}));
  EXPECT_EQ(h.in(kIirFcr) & 0x0f, kIirReceivedData);  // received data outranks THRE
  h.in(kRbrThr);                                      // THRE still pending
  EXPECT_EQ(h.irq_levels, (std::vector<bool>{true}));
  EXPECT_EQ(h.in(kIirFcr) & 0x0f, kIirThrEmpty);
  EXPECT_EQ(h.irq_levels, (std::vector<bool>{true, false}));
}

TEST(Uart8250, ReceiveSetsDataReadyAndRaisesIrq) {
  UartHarness h;
  h.out(kIer, kIerReceivedData);
  EXPECT_FALSE(h.irq());
  const uint8_t input[] = {'h', 'i', '!'};
  EXPECT_EQ(h.uart.enqueue_input(input), 3u);
  EXPECT_TRUE(h.irq());
  EXPECT_EQ(h.in(kIirFcr) & 0x0f, kIirReceivedData);
  EXPECT_TRUE(h.irq());  // reading IIR does not acknowledge received data
  EXPECT_EQ(h.in(kLsr) & kLsrDataReady, kLsrDataReady);
  EXPECT_EQ(h.in(kRbrThr), 'h');
  EXPECT_EQ(h.in(kRbrThr), 'i');
  EXPECT_TRUE(h.irq());
  EXPECT_EQ(h.in(kRbrThr), '!');
  EXPECT_EQ(h.in(kLsr) & kLsrDataReady, 0);
  EXPECT_FALSE(h.irq());
  EXPECT_EQ(h.in(kRbrThr), 0);  // empty
}

TEST(Uart8250, InputRespectsFifoCapacity) {
  UartHarness h;
  std::vector<uint8_t> lots(Uart8250::kInputCapacity + 10);
  for (size_t i = 0; i < lots.size(); ++i) lots[i] = static_cast<uint8_t>(i);
  EXPECT_TRUE(h.uart.can_accept_input());
  EXPECT_EQ(h.uart.enqueue_input(lots), Uart8250::kInputCapacity);
  EXPECT_FALSE(h.uart.can_accept_input());
  EXPECT_EQ(h.uart.enqueue_input(lots), 0u);
  EXPECT_EQ(h.in(kRbrThr), 0);
  EXPECT_TRUE(h.uart.can_accept_input());
  EXPECT_EQ(h.uart.enqueue_input(std::span(lots).subspan(Uart8250::kInputCapacity)), 1u);
  for (size_t i = 1; i < Uart8250::kInputCapacity; ++i) ASSERT_EQ(h.in(kRbrThr), i);
  EXPECT_EQ(h.in(kRbrThr), Uart8250::kInputCapacity);  // the byte taken last
}

TEST(Uart8250, DivisorLatchBehindDlab) {
  UartHarness h;
  h.out(kIer, kIerReceivedData);
  h.out(kLcr, kLcrDivisorLatchAccess | 0x03);
  EXPECT_EQ(h.in(kDll), 0x0c);  // 9600 baud until the guest says otherwise
  EXPECT_EQ(h.in(kDlm), 0x00);
  h.out(kDll, 0x01);  // 115200 baud
  h.out(kDlm, 0x02);
  EXPECT_EQ(h.in(kDll), 0x01);
  EXPECT_EQ(h.in(kDlm), 0x02);
  EXPECT_TRUE(h.output.empty());  // divisor writes are not output
  h.out(kLcr, 0x03);
  EXPECT_EQ(h.in(kLcr), 0x03);
  EXPECT_EQ(h.in(kIer), kIerReceivedData);  // DLM did not touch IER
  h.out(kLcr, kLcrDivisorLatchAccess);
  EXPECT_EQ(h.in(kDll), 0x01);  // the latch keeps its value
}

TEST(Uart8250, ScratchAndIerMask) {
  UartHarness h;
  h.out(kScr, 0x5a);
  EXPECT_EQ(h.in(kScr), 0x5a);
  h.out(kIer, 0xff);
  EXPECT_EQ(h.in(kIer), 0x0f);  // bits 7:4 read 0 on a 16550A
  h.out(kMcr, 0xff);
  EXPECT_EQ(h.in(kMcr), kMcrWritable);
}

TEST(Uart8250, FifoControl) {
  UartHarness h;
  EXPECT_EQ(h.in(kIirFcr) & kIirFifosEnabled, 0);
  h.out(kIirFcr, kFcrEnableFifos);
  EXPECT_EQ(h.in(kIirFcr) & kIirFifosEnabled, kIirFifosEnabled);
  const uint8_t input[] = {'a', 'b'};
  h.uart.enqueue_input(input);
  h.out(kIirFcr, kFcrEnableFifos | kFcrClearReceiver);
  EXPECT_EQ(h.in(kLsr) & kLsrDataReady, 0);
  h.uart.enqueue_input(input);
  h.out(kIirFcr, 0);  // turning the FIFOs off empties them
  EXPECT_EQ(h.in(kLsr) & kLsrDataReady, 0);
  EXPECT_EQ(h.in(kIirFcr) & kIirFifosEnabled, 0);
}

TEST(Uart8250, ConnectedLineOutsideLoopback) {
  UartHarness h;
  EXPECT_EQ(h.in(kMsr) & 0xf0, kMsrDcd | kMsrDsr | kMsrCts);
}

TEST(Uart8250, LoopbackAsLinuxProbesIt) {
  UartHarness h;
  // Linux's autoconfig: MCR = LOOP | OUT2 | RTS, then expects MSR & 0xf0 == 0x90.
  h.out(kMcr, kMcrLoopback | kMcrOut2 | kMcrRts);
  EXPECT_EQ(h.in(kMsr) & 0xf0, kMsrDcd | kMsrCts);
  h.out(kMcr, kMcrLoopback | kMcrDtr | kMcrOut1);
  EXPECT_EQ(h.in(kMsr) & 0xf0, kMsrDsr | kMsrRi);
  h.out(kRbrThr, 'L');
  h.out(kRbrThr, 'M');
  EXPECT_TRUE(h.output.empty());
  EXPECT_EQ(h.in(kLsr) & kLsrDataReady, kLsrDataReady);
  EXPECT_EQ(h.in(kRbrThr), 'L');
  EXPECT_EQ(h.in(kRbrThr), 'M');
  const uint8_t input[] = {'x'};
  EXPECT_EQ(h.uart.enqueue_input(input), 0u);  // the receiver is cut off from the line
  EXPECT_FALSE(h.uart.can_accept_input());
  h.out(kMcr, kMcrOut2 | kMcrRts | kMcrDtr);
  EXPECT_EQ(h.in(kMsr) & 0xf0, kMsrDcd | kMsrDsr | kMsrCts);
  h.out(kRbrThr, 'o');
  EXPECT_EQ(h.output, (std::vector<uint8_t>{'o'}));
  EXPECT_EQ(h.uart.enqueue_input(input), 1u);
}

TEST(Uart8250, ModemStatusDeltasAndInterrupt) {
  UartHarness h;
  h.out(kIer, kIerModemStatus);
  EXPECT_FALSE(h.irq());
  h.out(kMcr, kMcrLoopback | kMcrOut1);  // CTS, DSR, DCD drop; RI rises
  EXPECT_TRUE(h.irq());
  EXPECT_EQ(h.in(kIirFcr) & 0x0f, kIirModemStatus);
  EXPECT_EQ(h.in(kMsr), kMsrRi | kMsrDeltaCts | kMsrDeltaDsr | kMsrDeltaDcd);
  EXPECT_FALSE(h.irq());  // reading MSR cleared the deltas
  EXPECT_EQ(h.in(kMsr), kMsrRi);
  h.out(kMcr, kMcrLoopback);  // RI falls: trailing edge
  EXPECT_EQ(h.in(kMsr), kMsrTrailingEdgeRi);
}

}  // namespace
}  // namespace vmhive::devices
