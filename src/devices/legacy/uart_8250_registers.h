// Register layout of the 16550A UART (National Semiconductor PC16550D
// datasheet, "Registers", Table II). Offsets count from the base port.
#pragma once

#include <cstdint>

namespace vmhive::devices::uart {

// Offsets. With LCR.DLAB set, offsets 0 and 1 reach the divisor latch.
inline constexpr uint16_t kRbrThr = 0;  // receiver buffer (read), transmitter holding (write)
inline constexpr uint16_t kIer = 1;     // interrupt enable
inline constexpr uint16_t kIirFcr = 2;  // interrupt identification (read), FIFO control (write)
inline constexpr uint16_t kLcr = 3;     // line control
inline constexpr uint16_t kMcr = 4;     // modem control
inline constexpr uint16_t kLsr = 5;     // line status
inline constexpr uint16_t kMsr = 6;     // modem status
inline constexpr uint16_t kScr = 7;     // scratch
inline constexpr uint16_t kDll = 0;     // divisor latch, low byte (DLAB = 1)
inline constexpr uint16_t kDlm = 1;     // divisor latch, high byte (DLAB = 1)

// IER: bits 7:4 are always 0 on a 16550A (Linux tells it from an XScale by this).
inline constexpr uint8_t kIerReceivedData = 0x01;
inline constexpr uint8_t kIerThrEmpty = 0x02;
inline constexpr uint8_t kIerLineStatus = 0x04;
inline constexpr uint8_t kIerModemStatus = 0x08;
inline constexpr uint8_t kIerWritable = 0x0f;

// IIR: bit 0 clear means an interrupt is pending; bits 3:1 name the
// highest-priority source (Table IV); bits 7:6 are set while FIFOs are on.
inline constexpr uint8_t kIirNoInterrupt = 0x01;
inline constexpr uint8_t kIirLineStatus = 0x06;
inline constexpr uint8_t kIirReceivedData = 0x04;
inline constexpr uint8_t kIirThrEmpty = 0x02;
inline constexpr uint8_t kIirModemStatus = 0x00;
inline constexpr uint8_t kIirFifosEnabled = 0xc0;

// FCR (write-only).
inline constexpr uint8_t kFcrEnableFifos = 0x01;
inline constexpr uint8_t kFcrClearReceiver = 0x02;
inline constexpr uint8_t kFcrClearTransmitter = 0x04;
inline constexpr uint8_t kFcrTriggerLevel = 0xc0;

// LCR.
inline constexpr uint8_t kLcrDivisorLatchAccess = 0x80;

// MCR: bits 7:5 are always 0 on a 16550A.
inline constexpr uint8_t kMcrDtr = 0x01;
inline constexpr uint8_t kMcrRts = 0x02;
inline constexpr uint8_t kMcrOut1 = 0x04;
inline constexpr uint8_t kMcrOut2 = 0x08;
inline constexpr uint8_t kMcrLoopback = 0x10;
inline constexpr uint8_t kMcrWritable = 0x1f;

// LSR.
inline constexpr uint8_t kLsrDataReady = 0x01;
inline constexpr uint8_t kLsrThrEmpty = 0x20;
inline constexpr uint8_t kLsrTransmitterEmpty = 0x40;

// MSR: bits 3:0 are change flags, bits 7:4 the modem input lines.
inline constexpr uint8_t kMsrDeltaCts = 0x01;
inline constexpr uint8_t kMsrDeltaDsr = 0x02;
inline constexpr uint8_t kMsrTrailingEdgeRi = 0x04;
inline constexpr uint8_t kMsrDeltaDcd = 0x08;
inline constexpr uint8_t kMsrCts = 0x10;
inline constexpr uint8_t kMsrDsr = 0x20;
inline constexpr uint8_t kMsrRi = 0x40;
inline constexpr uint8_t kMsrDcd = 0x80;

}  // namespace vmhive::devices::uart
