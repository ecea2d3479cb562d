#include "snapshot/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <utility>

#include "common/unique_fd.h"
#include "common/byte_codec.h"

namespace vmhive::snapshot {
namespace {

constexpr char kMagic[8] = {'V', 'M', 'H', 'V', 'S', 'N', 'A', 'P'};
constexpr size_t kHeaderBytes = 32;
constexpr size_t kSectionHeaderBytes = 24;

uint32_t crc_of(std::span<const uint8_t> bytes) {
  uLong crc = ::crc32(0L, Z_NULL, 0);
  // zlib takes at most 4 GiB a call; files are capped far below that.
  if (!bytes.empty()) crc = ::crc32(crc, bytes.data(), static_cast<uInt>(bytes.size()));
  return static_cast<uint32_t>(crc);
}

std::string section_name(size_t ordinal, uint32_t tag, uint32_t instance) {
  char text[64];
  std::snprintf(text, sizeof text, "section %zu (tag %u, instance %u)", ordinal, tag, instance);
  return text;
}

// A section's checksum covers its tag, instance and length too, so a flipped
// bit anywhere in the file is caught.
uint32_t section_crc(uint32_t tag, uint32_t instance, std::span<const uint8_t> payload) {
  ByteWriter fields;
  fields.put_u32(tag);
  fields.put_u32(instance);
  fields.put_u64(payload.size());
  uLong crc = ::crc32(::crc32(0L, Z_NULL, 0), fields.bytes().data(), static_cast<uInt>(fields.bytes().size()));
  // (zlib treats a null buffer as "give the initial value", so skip empty payloads)
  if (!payload.empty()) crc = ::crc32(crc, payload.data(), static_cast<uInt>(payload.size()));
  return static_cast<uint32_t>(crc);
}

Error bad(const std::string& what) { return make_error("state file: " + what); }

}  // namespace

void StateFileWriter::add(uint32_t tag, uint32_t instance, std::vector<uint8_t> payload) {
  sections_.push_back(Section{tag, instance, std::move(payload)});
}

std::vector<uint8_t> StateFileWriter::finish() const {
  uint64_t total = kHeaderBytes;
  for (const auto& section : sections_) total += kSectionHeaderBytes + section.payload.size();
  ByteWriter writer;
  writer.put_bytes(std::span(reinterpret_cast<const uint8_t*>(kMagic), sizeof kMagic));
  writer.put_u32(kStateFormatVersion);
  writer.put_u32(static_cast<uint32_t>(sections_.size()));
  writer.put_u64(total);
  writer.put_u32(crc_of(writer.bytes()));
  writer.put_u32(0);
  for (const auto& section : sections_) {
    writer.put_u32(section.tag);
    writer.put_u32(section.instance);
    writer.put_u64(section.payload.size());
    writer.put_u32(section_crc(section.tag, section.instance, section.payload));
    writer.put_u32(0);
    writer.put_bytes(section.payload);
  }
  return writer.take();
}

Result<StateFile> StateFile::parse(std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeaderBytes)
    return bad("truncated: " + std::to_string(bytes.size()) + " bytes is shorter than the 32-byte header");
  if (std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) return bad("not a vmhive snapshot (bad magic)");
  ByteReader header(bytes.subspan(sizeof kMagic, kHeaderBytes - sizeof kMagic), "state file header");
  const uint32_t version = VMHIVE_TRY(header.get_u32());
  const uint32_t count = VMHIVE_TRY(header.get_u32());
  const uint64_t length = VMHIVE_TRY(header.get_u64());
  const uint32_t header_crc = VMHIVE_TRY(header.get_u32());
  const uint32_t reserved = VMHIVE_TRY(header.get_u32());
  if (crc_of(bytes.subspan(0, 24)) != header_crc) return bad("header checksum mismatch");
  if (version != kStateFormatVersion)
    return bad("format version " + std::to_string(version) + " is not supported (this vmhive reads version " +
               std::to_string(kStateFormatVersion) + ")");
  if (reserved != 0) return bad("reserved header field is not zero");
  if (length != bytes.size())
    return bad("truncated or padded: header says " + std::to_string(length) + " bytes, file has " +
               std::to_string(bytes.size()));
  if (count > (bytes.size() - kHeaderBytes) / kSectionHeaderBytes)
    return bad(std::to_string(count) + " sections cannot fit in " + std::to_string(bytes.size()) + " bytes");

  std::vector<Section> sections;
  sections.reserve(count);
  std::set<std::pair<uint32_t, uint32_t>> seen;
  size_t offset = kHeaderBytes;
  for (uint32_t ordinal = 0; ordinal < count; ++ordinal) {
    if (bytes.size() - offset < kSectionHeaderBytes)
      return bad("section " + std::to_string(ordinal) + "'s header runs past the end of the file");
    ByteReader reader(bytes.subspan(offset, kSectionHeaderBytes), "section header");
    const uint32_t tag = VMHIVE_TRY(reader.get_u32());
    const uint32_t instance = VMHIVE_TRY(reader.get_u32());
    const uint64_t payload_length = VMHIVE_TRY(reader.get_u64());
    const uint32_t payload_crc = VMHIVE_TRY(reader.get_u32());
    const uint32_t section_reserved = VMHIVE_TRY(reader.get_u32());
    const std::string name = section_name(ordinal, tag, instance);
    offset += kSectionHeaderBytes;
    if (section_reserved != 0) return bad(name + ": reserved field is not zero");
    if (payload_length > bytes.size() - offset) return bad(name + ": payload runs past the end of the file");
    auto payload = bytes.subspan(offset, static_cast<size_t>(payload_length));
    if (section_crc(tag, instance, payload) != payload_crc) return bad(name + ": checksum mismatch");
    if (!seen.insert({tag, instance}).second) return bad(name + ": appears twice");
    sections.push_back(Section{tag, instance, std::vector<uint8_t>(payload.begin(), payload.end())});
    offset += payload.size();
  }
  if (offset != bytes.size()) return bad(std::to_string(bytes.size() - offset) + " bytes after the last section");
  return StateFile(std::move(sections));
}

Result<std::span<const uint8_t>> StateFile::section(uint32_t tag, uint32_t instance) const {
  for (const auto& section : sections_) {
    if (section.tag == tag && section.instance == instance) return std::span<const uint8_t>(section.payload);
  }
  return bad("no section with tag " + std::to_string(tag) + ", instance " + std::to_string(instance));
}

size_t StateFile::count(uint32_t tag) const {
  return static_cast<size_t>(
      std::count_if(sections_.begin(), sections_.end(), [tag](const Section& section) { return section.tag == tag; }));
}

}  // namespace vmhive::snapshot
