#include "arch/x86/boot/elf_pvh.h"

#include <elf.h>

#include <cstring>
#include <optional>
#include <string>

namespace vmhive::x86::boot {
namespace {

constexpr uint32_t kXenElfNoteGuestOs = 6;
constexpr uint32_t kXenElfNotePhys32Entry = 18;
constexpr char kXenNoteName[] = "Xen";  // with its NUL: namesz 4
constexpr uint64_t kMaxSegments = 64;

uint64_t align4(uint64_t value) { return (value + 3) & ~uint64_t{3}; }

// True if [offset, offset + size) lies inside a buffer of `total` bytes, without overflow.
bool inside(uint64_t offset, uint64_t size, uint64_t total) { return offset <= total && size <= total - offset; }

template <class T>
T read_at(std::span<const uint8_t> bytes, uint64_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

struct XenNotes {
  std::optional<uint32_t> pvh_entry;
  bool guest_os_linux = false;
};

// Looks through one note area for the PVH entry and the guest OS name.
Result<XenNotes> read_xen_notes(std::span<const uint8_t> notes) {
  XenNotes found;
  uint64_t offset = 0;
  while (offset < notes.size()) {
    if (!inside(offset, sizeof(Elf64_Nhdr), notes.size())) return make_error("ELF note header runs past its segment");
    auto note = read_at<Elf64_Nhdr>(notes, offset);
    const uint64_t name_offset = offset + sizeof(Elf64_Nhdr);
    const uint64_t desc_offset = name_offset + align4(note.n_namesz);
    const uint64_t next = desc_offset + align4(note.n_descsz);
    if (!inside(name_offset, align4(note.n_namesz), notes.size()) ||
        !inside(desc_offset, align4(note.n_descsz), notes.size())) {
      return make_error("ELF note runs past its segment");
    }
    const bool is_xen = note.n_namesz == sizeof kXenNoteName &&
                        std::memcmp(notes.data() + name_offset, kXenNoteName, sizeof kXenNoteName) == 0;
    if (is_xen && note.n_type == kXenElfNoteGuestOs) {
      constexpr char kLinux[] = "linux";
      found.guest_os_linux = note.n_descsz >= sizeof kLinux - 1 &&
                             std::memcmp(notes.data() + desc_offset, kLinux, sizeof kLinux - 1) == 0;
    }
    if (is_xen && note.n_type == kXenElfNotePhys32Entry && !found.pvh_entry) {
      uint64_t entry;
      if (note.n_descsz == 4) {
        entry = read_at<uint32_t>(notes, desc_offset);
      } else if (note.n_descsz == 8) {
        entry = read_at<uint64_t>(notes, desc_offset);
      } else {
        return make_error("PVH entry note has a " + std::to_string(note.n_descsz) + "-byte value (4 or 8 expected)");
      }
      if (entry > UINT32_MAX) return make_error("PVH entry point is above 4 GiB");
      found.pvh_entry = static_cast<uint32_t>(entry);
    }
    offset = next;
  }
  return found;
}

}  // namespace

bool looks_like_elf(std::span<const uint8_t> image) {
  return image.size() >= SELFMAG && std::memcmp(image.data(), ELFMAG, SELFMAG) == 0;
}

Result<ElfPvhImage> parse_elf_pvh(std::span<const uint8_t> image) {
  if (!looks_like_elf(image)) return make_error("not an ELF file");
  if (image.size() < EI_NIDENT) return make_error("truncated ELF (no identification bytes)");
  if (image[EI_CLASS] != ELFCLASS64) return make_error("not a 64-bit ELF file (only ELF64 kernels are supported)");
  if (image[EI_DATA] != ELFDATA2LSB) return make_error("not a little-endian ELF file");
  if (image.size() < sizeof(Elf64_Ehdr)) return make_error("truncated ELF (file ends inside the ELF header)");
  auto header = read_at<Elf64_Ehdr>(image, 0);
  if (header.e_machine != EM_X86_64) return make_error("ELF file is not for x86-64");
  if (header.e_type != ET_EXEC) return make_error("ELF file is not an executable, so it cannot have a PVH entry");
  if (header.e_phentsize != sizeof(Elf64_Phdr)) return make_error("ELF program header size is wrong");
  if (header.e_phnum == 0 || header.e_phnum > kMaxSegments) {
    return make_error("ELF file has " + std::to_string(header.e_phnum) + " program headers");
  }
  if (!inside(header.e_phoff, uint64_t{header.e_phnum} * sizeof(Elf64_Phdr), image.size())) {
    return make_error("truncated ELF (program headers run past the end of the file)");
  }

  ElfPvhImage result{};
  std::optional<uint32_t> entry;
  for (uint16_t i = 0; i < header.e_phnum; ++i) {
    auto phdr = read_at<Elf64_Phdr>(image, header.e_phoff + uint64_t{i} * sizeof(Elf64_Phdr));
    if (phdr.p_type != PT_LOAD && phdr.p_type != PT_NOTE) continue;
    if (!inside(phdr.p_offset, phdr.p_filesz, image.size())) {
      return make_error("truncated ELF (segment " + std::to_string(i) + " runs past the end of the file)");
    }
    if (phdr.p_type == PT_NOTE) {
      auto found = VMHIVE_TRY(read_xen_notes(image.subspan(phdr.p_offset, phdr.p_filesz)));
      if (found.pvh_entry && !entry) entry = found.pvh_entry;
      result.is_linux |= found.guest_os_linux;
      continue;
    }
    if (phdr.p_memsz < phdr.p_filesz) return make_error("ELF segment " + std::to_string(i) + " is smaller in memory than in the file");
    if (phdr.p_paddr > UINT64_MAX - phdr.p_memsz) return make_error("ELF segment " + std::to_string(i) + " wraps around");
    if (phdr.p_memsz == 0) continue;
    const bool text = (phdr.p_flags & PF_X) != 0 && (phdr.p_flags & PF_W) == 0;
    result.segments.push_back({phdr.p_offset, phdr.p_filesz, phdr.p_paddr, phdr.p_memsz, text});
    result.end_address = std::max(result.end_address, phdr.p_paddr + phdr.p_memsz);
  }
  if (!entry) return make_error("ELF file has no PVH entry note (Xen note type 18, XEN_ELFNOTE_PHYS32_ENTRY)");
  if (result.segments.empty()) return make_error("ELF file has nothing to load");
  bool entry_is_loaded = false;
  for (const auto& segment : result.segments) {
    entry_is_loaded |= *entry >= segment.guest_address && *entry - segment.guest_address < segment.memory_size;
  }
  if (!entry_is_loaded) return make_error("PVH entry point lies outside every loaded segment");
  result.entry = *entry;
  return result;
}

}  // namespace vmhive::x86::boot
