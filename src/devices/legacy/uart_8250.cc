#include "devices/legacy/uart_8250.h"

#include <algorithm>
#include <utility>

#include "devices/legacy/uart_8250_registers.h"

namespace vmhive::devices {

using namespace uart;  // register names, one file's worth

Uart8250::Uart8250(OutputSink output, IrqLine irq_line)
    : output_(std::move(output)), irq_line_(std::move(irq_line)) {}

// Wider accesses reach consecutive registers, as the chipset splits a 16- or
// 32-bit cycle into byte cycles for an 8-bit device.
void Uart8250::read(uint16_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < data.size(); ++i) data[i] = read_register(static_cast<uint16_t>(offset + i));
}

void Uart8250::write(uint16_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < data.size(); ++i) write_register(static_cast<uint16_t>(offset + i), data[i]);
}

size_t Uart8250::enqueue_input(std::span<const uint8_t> bytes) {
  std::lock_guard lock(mutex_);
  if (in_loopback()) return 0;
  size_t room = kInputCapacity - receive_fifo_.size();
  size_t taken = std::min(room, bytes.size());
  receive_fifo_.insert(receive_fifo_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(taken));
  update_irq_line();
  return taken;
}

bool Uart8250::can_accept_input() const {
  std::lock_guard lock(mutex_);
  return !in_loopback() && input_has_room();
}

uint8_t Uart8250::read_register(uint16_t offset) {
  switch (offset) {
    case kRbrThr: {
      if (divisor_latch_selected()) return divisor_low_;
      if (receive_fifo_.empty()) return 0;
      uint8_t byte = receive_fifo_.front();
      receive_fifo_.pop_front();
      update_irq_line();
      return byte;
    }
    case kIer:
      return divisor_latch_selected() ? divisor_high_ : ier_;
    case kIirFcr: {
      uint8_t source = pending_interrupt();
      // Reading IIR acknowledges a THRE interrupt, and only that one.
      if (source == kIirThrEmpty) {
        thr_empty_interrupt_ = false;
        update_irq_line();
      }
      uint8_t fifo_bits = (fcr_ & kFcrEnableFifos) ? kIirFifosEnabled : 0;
      return static_cast<uint8_t>(source | fifo_bits);
    }
    case kLcr:
      return lcr_;
    case kMcr:
      return mcr_;
    case kLsr:
      return static_cast<uint8_t>((receive_fifo_.empty() ? 0 : kLsrDataReady) | kLsrThrEmpty | kLsrTransmitterEmpty);
    case kMsr: {
      uint8_t value = static_cast<uint8_t>(modem_input_lines() | msr_deltas_);
      msr_deltas_ = 0;  // reading MSR clears the change flags and their interrupt
      update_irq_line();
      return value;
    }
    case kScr:
      return scratch_;
    default:
      return 0xff;
  }
}

void Uart8250::write_register(uint16_t offset, uint8_t value) {
  switch (offset) {
    case kRbrThr:
      if (divisor_latch_selected()) {
        divisor_low_ = value;
        return;
      }
      if (in_loopback()) {
        // The transmitter feeds the receiver; a byte that finds the FIFO
        // full is dropped (a real chip would flag an overrun).
        if (input_has_room()) receive_fifo_.push_back(value);
      } else if (output_) {
        output_(value);
      }
      // Writing THR clears the THRE interrupt; the byte leaves at once, so
      // THR is empty again and the interrupt is re-armed.
      thr_empty_interrupt_ = true;
      update_irq_line();
      return;
    case kIer: {
      if (divisor_latch_selected()) {
        divisor_high_ = value;
        return;
      }
      uint8_t previous = ier_;
      ier_ = value & kIerWritable;
      // Enabling ETBEI while THR is empty raises THRE at once; Linux's 8250
      // driver relies on this to tell a working UART from a buggy one.
      if (!(previous & kIerThrEmpty) && (ier_ & kIerThrEmpty)) thr_empty_interrupt_ = true;
      update_irq_line();
      return;
    }
    case kIirFcr:
      write_fifo_control(value);
      return;
    case kLcr:
      lcr_ = value;
      return;
    case kMcr:
      write_modem_control(value);
      return;
    case kScr:
      scratch_ = value;
      return;
    default:
      return;  // LSR and MSR are read-only (writes are a factory test mode)
  }
}

void Uart8250::write_fifo_control(uint8_t value) {
  // FCR bit 0 must be set for the other bits to take effect; turning the
  // FIFOs on or off clears them (datasheet, "FIFO Control Register").
  bool was_enabled = (fcr_ & kFcrEnableFifos) != 0;
  bool enable = (value & kFcrEnableFifos) != 0;
  if (enable != was_enabled || (enable && (value & kFcrClearReceiver))) receive_fifo_.clear();
  fcr_ = enable ? static_cast<uint8_t>(value & (kFcrEnableFifos | kFcrTriggerLevel)) : 0;
  // The transmit FIFO is always empty, so kFcrClearTransmitter has nothing to do.
  update_irq_line();
}

void Uart8250::write_modem_control(uint8_t value) {
  uint8_t before = modem_input_lines();
  mcr_ = value & kMcrWritable;
  uint8_t after = modem_input_lines();
  uint8_t changed = before ^ after;
  if (changed & kMsrCts) msr_deltas_ |= kMsrDeltaCts;
  if (changed & kMsrDsr) msr_deltas_ |= kMsrDeltaDsr;
  if (changed & kMsrDcd) msr_deltas_ |= kMsrDeltaDcd;
  if ((before & kMsrRi) && !(after & kMsrRi)) msr_deltas_ |= kMsrTrailingEdgeRi;
  update_irq_line();
}

bool Uart8250::divisor_latch_selected() const { return (lcr_ & kLcrDivisorLatchAccess) != 0; }

bool Uart8250::in_loopback() const { return (mcr_ & kMcrLoopback) != 0; }

bool Uart8250::input_has_room() const { return receive_fifo_.size() < kInputCapacity; }

// In loopback the modem inputs are wired to the MCR outputs: RTS -> CTS,
// DTR -> DSR, OUT1 -> RI, OUT2 -> DCD (datasheet, "Modem Control Register").
// Otherwise the line looks connected and ready.
uint8_t Uart8250::modem_input_lines() const {
  if (!in_loopback()) return kMsrDcd | kMsrDsr | kMsrCts;
  uint8_t lines = 0;
  if (mcr_ & kMcrRts) lines |= kMsrCts;
  if (mcr_ & kMcrDtr) lines |= kMsrDsr;
  if (mcr_ & kMcrOut1) lines |= kMsrRi;
  if (mcr_ & kMcrOut2) lines |= kMsrDcd;
  return lines;
}

// Sources in priority order (datasheet Table IV). Line-status errors never
// happen here. Received data is reported as soon as one byte is waiting,
// whatever the trigger level, so no character-timeout source is needed.
uint8_t Uart8250::pending_interrupt() const {
  if ((ier_ & kIerReceivedData) && !receive_fifo_.empty()) return kIirReceivedData;
  if ((ier_ & kIerThrEmpty) && thr_empty_interrupt_) return kIirThrEmpty;
  if ((ier_ & kIerModemStatus) && msr_deltas_ != 0) return kIirModemStatus;
  return kIirNoInterrupt;
}

// The interrupt output follows IER and the pending sources directly. It is
// not gated by MCR.OUT2 (the PC board's buffer enable), so a guest that
// enables interrupts without setting OUT2 still gets them; Linux sets OUT2.
Uart8250::State Uart8250::state() const {
  std::lock_guard lock(mutex_);
  return State{ier_, fcr_, lcr_, mcr_, msr_deltas_, scratch_, divisor_low_, divisor_high_, thr_empty_interrupt_,
               irq_level_, std::vector<uint8_t>(receive_fifo_.begin(), receive_fifo_.end())};
}

void Uart8250::restore(const State& state) {
  std::lock_guard lock(mutex_);
  ier_ = state.ier;
  fcr_ = state.fcr;
  lcr_ = state.lcr;
  mcr_ = state.mcr;
  msr_deltas_ = state.msr_deltas;
  scratch_ = state.scratch;
  divisor_low_ = state.divisor_low;
  divisor_high_ = state.divisor_high;
  thr_empty_interrupt_ = state.thr_empty_interrupt;
  const size_t kept = std::min(state.receive_fifo.size(), kInputCapacity);
  receive_fifo_.assign(state.receive_fifo.begin(), state.receive_fifo.begin() + static_cast<std::ptrdiff_t>(kept));
  irq_level_ = !state.irq_level;  // make update_irq_line() drive the line to the restored level
  update_irq_line();
}

void Uart8250::update_irq_line() {
  bool level = pending_interrupt() != kIirNoInterrupt;
  if (level == irq_level_) return;
  irq_level_ = level;
  if (irq_line_) irq_line_(level);
}

}  // namespace vmhive::devices
