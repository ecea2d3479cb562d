// A 16550A UART (COM1): the guest's console.
//
// Output is instant: every byte written to THR goes straight to the output
// sink, so THR and the transmitter are always empty (LSR.THRE and LSR.TEMT
// set). Input comes from the host console thread through enqueue_input(),
// which takes only what fits in the receive FIFO and says how much it took,
// so the caller keeps the rest and retries (no overrun is ever modelled).
// The guest sees a connected line: DCD, DSR and CTS set. Loopback (MCR bit
// 4) works as the datasheet describes, because Linux's 8250 probe checks it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <vector>

#include "common/result.h"
#include "devices/io_bus.h"

namespace vmhive::devices {

class Uart8250 final : public PioDevice {
 public:
  static constexpr uint16_t kCom1Base = 0x3f8;
  static constexpr uint16_t kCom1Irq = 4;
  static constexpr uint16_t kPortCount = 8;
  // Larger than the chip's 16 bytes so a host paste takes fewer retries;
  // the guest cannot tell, since nothing is ever overrun.
  static constexpr size_t kInputCapacity = 64;

  using OutputSink = std::function<void(uint8_t byte)>;
  // Called with the new level of the UART's interrupt output each time it
  // changes (the VMM drives IRQ 4 with it).
  using IrqLine = std::function<void(bool level)>;

  // Both callbacks run with the UART's lock held, from a vCPU thread or the
  // thread calling enqueue_input(); they must not call back into the UART.
  Uart8250(OutputSink output, IrqLine irq_line);

  void read(uint16_t offset, std::span<uint8_t> data) override;
  void write(uint16_t offset, std::span<const uint8_t> data) override;

  // Thread-safe. Appends as many bytes as fit in the receive FIFO and returns
  // that count; 0 while the FIFO is full or the UART is in loopback (where
  // its receiver is cut off from the line).
  size_t enqueue_input(std::span<const uint8_t> bytes);
  bool can_accept_input() const;

  // Everything the guest can observe, for snapshots. restore() also sets the
  // IRQ line to the restored level.
  struct State {
    static constexpr size_t kMaxReceiveFifo = 4096;

    uint8_t ier, fcr, lcr, mcr, msr_deltas, scratch, divisor_low, divisor_high;
    bool thr_empty_interrupt, irq_level;
    std::vector<uint8_t> receive_fifo;

    template <class Codec, class Self>
    static Result<void> fields(Codec& codec, Self& self) {
      VMHIVE_CHECK(codec.field(self.ier, self.fcr, self.lcr, self.mcr, self.msr_deltas, self.scratch,
                               self.divisor_low, self.divisor_high, self.thr_empty_interrupt, self.irq_level));
      return codec.bytes(self.receive_fifo, kMaxReceiveFifo, "receive FIFO");
    }
  };
  State state() const;
  void restore(const State& state);

 private:
  // Everything below runs with mutex_ held.
  uint8_t read_register(uint16_t offset);
  void write_register(uint16_t offset, uint8_t value);
  void write_fifo_control(uint8_t value);
  void write_modem_control(uint8_t value);
  bool divisor_latch_selected() const;
  bool in_loopback() const;
  bool input_has_room() const;
  uint8_t modem_input_lines() const;
  uint8_t pending_interrupt() const;  // an IIR source code, or kIirNoInterrupt
  void update_irq_line();

  OutputSink output_;
  IrqLine irq_line_;
  mutable std::mutex mutex_;

  uint8_t ier_ = 0;
  uint8_t fcr_ = 0;  // the enable and trigger-level bits last written
  uint8_t lcr_ = 0;
  uint8_t mcr_ = 0;
  uint8_t msr_deltas_ = 0;
  uint8_t scratch_ = 0;
  uint8_t divisor_low_ = 0x0c;  // 9600 baud, the PC default; not reset by hardware
  uint8_t divisor_high_ = 0;
  // The THRE interrupt condition: set when THR empties (at once, after each
  // write) or when IER.ETBEI goes 0 -> 1; cleared by reading IIR while it is
  // the source reported (datasheet Table IV, "Interrupt Reset Control").
  bool thr_empty_interrupt_ = false;
  bool irq_level_ = false;
  std::deque<uint8_t> receive_fifo_;
};

}  // namespace vmhive::devices
