// The snapshot state file: a checksummed container of tagged sections.
//
// Layout (little-endian), format version 2:
//   header (32 bytes): magic "VMHVSNAP", u32 version, u32 section count,
//                      u64 file length, u32 CRC-32 of the preceding 24 bytes,
//                      u32 reserved (0)
//   each section:      u32 tag, u32 instance, u64 payload length,
//                      u32 CRC-32 of those three fields and the payload,
//                      u32 reserved (0), payload
// The parser trusts nothing: every length is checked before it is used.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace vmhive::snapshot {

inline constexpr uint32_t kStateFormatVersion = 2;  // 2: each virtio device keeps a state of its own
inline constexpr size_t kMaxStateFileBytes = 64ull << 20;

struct Section {
  uint32_t tag;
  uint32_t instance;  // which one of several (a vCPU's index); 0 when single
  std::vector<uint8_t> payload;
};

class StateFileWriter {
 public:
  void add(uint32_t tag, uint32_t instance, std::vector<uint8_t> payload);
  std::vector<uint8_t> finish() const;

 private:
  std::vector<Section> sections_;
};

class StateFile {
 public:
  static Result<StateFile> parse(std::span<const uint8_t> bytes);

  // The payload of (tag, instance), or an error naming the missing section.
  Result<std::span<const uint8_t>> section(uint32_t tag, uint32_t instance = 0) const;
  size_t count(uint32_t tag) const;
  const std::vector<Section>& sections() const { return sections_; }

 private:
  explicit StateFile(std::vector<Section> sections) : sections_(std::move(sections)) {}
  std::vector<Section> sections_;
};

}  // namespace vmhive::snapshot
