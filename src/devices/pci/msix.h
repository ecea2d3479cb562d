// MSI-X (PCI Local Bus 3.0 §6.8.2): a table of message address/data pairs
// and a pending-bit array, both in a BAR, switched on through a capability.
//
// The table only decides *whether* and *what* to deliver; an MsiSink does the
// delivering. In a VM that is KVM: each vector has a GSI routed to its message
// and an irqfd, so a device thread raises an interrupt with one eventfd write.
// Masking is done here (a masked vector's interrupt sets its pending bit and
// is sent when the driver unmasks it), so routes never need tearing down; a
// vector's route is brought up to date when it is unmasked, so rewriting
// masked entries costs the VMM nothing.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace vmhive::pci {

inline constexpr uint8_t kMsixCapabilityId = 0x11;
inline constexpr unsigned kMsixMaxVectors = 2048;

struct MsiMessage {
  uint64_t address;
  uint32_t data;
  bool operator==(const MsiMessage&) const = default;
};

class MsiSink {
 public:
  virtual ~MsiSink() = default;
  // The driver (re)programmed `vector` with `message`.
  virtual void route(unsigned vector, const MsiMessage& message) = 0;
  // Deliver `vector`'s routed message now.
  virtual void signal(unsigned vector) = 0;
};

class MsixTable {
 public:
  // `vector_count` from 1 to 2048.
  MsixTable(unsigned vector_count, MsiSink& sink);

  // The capability as ConfigSpace::add_capability wants it: message control,
  // table offset/BIR and PBA offset/BIR (offsets 8-byte aligned, in `bar`),
  // and which bits a driver may write (MSI-X Enable and Function Mask).
  std::array<uint8_t, 10> capability_body(uint8_t bar, uint32_t table_offset, uint32_t pba_offset) const;
  static std::array<uint8_t, 10> capability_writable();
  // Message control after the driver wrote it (the capability's bytes 2-3).
  void set_message_control(uint16_t control);

  // BAR accesses, `offset` from the table's or the PBA's start. Only aligned
  // 4- and 8-byte accesses are meaningful (§6.8.2); others read all ones and
  // drop writes. The PBA is read-only.
  void table_read(uint64_t offset, std::span<uint8_t> data);
  void table_write(uint64_t offset, std::span<const uint8_t> data);
  void pba_read(uint64_t offset, std::span<uint8_t> data);

  // A device's interrupt on `vector`: delivered, or left pending while masked.
  // Ignored while MSI-X is disabled (no INTx fallback) or for a vector past
  // the table.
  void notify(unsigned vector);

  // Snapshots. An entry is its four dwords as the table holds them.
  struct State {
    std::vector<std::array<uint32_t, 4>> entries;  // address low, address high, data, vector control
    std::vector<uint64_t> pending;
    bool enabled = false;
    bool function_masked = false;

    template <class Codec, class Self>
    static Result<void> fields(Codec& codec, Self& self) {
      VMHIVE_CHECK(codec.list(self.entries, kMsixMaxVectors, [](auto& c, auto& entry) { return c.field(entry); },
                              "MSI-X vectors"));
      VMHIVE_CHECK(codec.list(self.pending, (kMsixMaxVectors + 63) / 64, [](auto& c, auto& word) { return c.field(word); },
                              "MSI-X pending words"));
      return codec.field(self.enabled, self.function_masked);
    }
    Result<void> check() const {
      if (pending.size() != (entries.size() + 63) / 64)
        return make_error(std::to_string(pending.size()) + " MSI-X pending words for " +
                          std::to_string(entries.size()) + " vectors");
      return {};
    }
  };
  State state() const;
  // Whether restore() would take `state`: nothing changes.
  Result<void> check_restore(const State& state) const;
  // Takes `state` (same vector count), routes every vector's message again
  // and delivers what is pending and unmasked.
  Result<void> restore(const State& state);

  bool enabled() const;
  unsigned vector_count() const { return static_cast<unsigned>(entries_.size()); }
  uint64_t table_bytes() const { return 16ull * entries_.size(); }
  uint64_t pba_bytes() const { return 8ull * ((entries_.size() + 63) / 64); }

 private:
  struct Entry {
    uint32_t address_low = 0;
    uint32_t address_high = 0;
    uint32_t data = 0;
    uint32_t control = 1;  // masked at reset
  };

  bool masked(unsigned vector) const;
  MsiMessage message(unsigned vector) const;
  // Hands `vector`'s message to the sink if it is unmasked and changed since
  // it was last routed: a driver reprogramming a masked entry dword by dword
  // (or a guest rewriting the table in a loop) costs no route until it unmasks.
  void sync_route(unsigned vector);
  bool pending(unsigned vector) const { return (pending_[vector / 64] >> (vector % 64)) & 1; }
  void set_pending(unsigned vector, bool value);
  // Sends `vector`'s pending interrupt if MSI-X is on and the vector unmasked.
  void deliver_if_pending(unsigned vector);
  void deliver_unmasked_pending();

  MsiSink& sink_;
  mutable std::mutex lock_;
  std::vector<Entry> entries_;
  std::vector<uint64_t> pending_;
  std::vector<std::optional<MsiMessage>> routed_;  // what the sink has for each vector
  bool enabled_ = false;
  bool function_masked_ = false;
};

}  // namespace vmhive::pci
