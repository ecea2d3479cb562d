#include "arch/x86/boot/kernel_loader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "arch/x86/boot/bzimage.h"
#include "arch/x86/boot/elf_pvh.h"
#include "arch/x86/boot/initrd_placement.h"
#include "arch/x86/layout.h"
#include "common/errno_error.h"
#include "common/fd_io.h"
#include "common/unique_fd.h"

namespace vmhive::x86 {
namespace {

constexpr uint64_t kMaxKernelFileSize = 1ull << 30;
constexpr uint64_t kPvhModlistAddress = kPvhMemmapAddress + kPvhMemmapMaxEntries * sizeof(boot::HvmMemmapEntry);
static_assert(kPvhModlistAddress + sizeof(boot::HvmModlistEntry) <= kZeroPageAddress);

Result<UniqueFd> open_file(const std::string& what, const std::string& path, uint64_t& size) {
  const std::string subject = what + " " + path;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return with_context(subject, errno_error("cannot open"));
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) return with_context(subject, errno_error("cannot stat"));
  if (S_ISDIR(info.st_mode)) return make_error(subject + ": is a directory");
  if (!S_ISREG(info.st_mode)) return make_error(subject + ": not a regular file");
  if (info.st_size == 0) return make_error(subject + ": is empty");
  size = static_cast<uint64_t>(info.st_size);
  return fd;
}

// The whole of `out` from the start of the file, or an error naming it.
Result<void> read_exactly(int fd, std::span<uint8_t> out, const std::string& what, const std::string& path) {
  auto read = pread_exactly(fd, out, 0);
  if (!read.ok()) return with_context(what + " " + path, read.error());
  return {};
}

Result<std::vector<uint8_t>> read_kernel(const std::string& path) {
  uint64_t size = 0;
  UniqueFd fd = VMHIVE_TRY(open_file("kernel", path, size));
  if (size > kMaxKernelFileSize) return make_error("kernel " + path + ": larger than 1 GiB, not a kernel");
  std::vector<uint8_t> bytes(size);
  VMHIVE_CHECK(read_exactly(fd.get(), bytes, "kernel", path));
  return bytes;
}

// The command line a kernel gets, and a warning when it is not all that was asked for.
struct CommandLine {
  std::string text;
  std::vector<std::string> warnings;
};

// The user's command line, with the CPU template's Linux options after it
// when the kernel is Linux. `limit` counts the NUL. A user's command line
// that fits is never refused because the options made it too long: the
// kernel then gets it alone, and the warning names the options left off.
Result<CommandLine> choose_cmdline(const BootConfig& config, bool is_linux, uint64_t limit) {
  if (config.cmdline.find('\0') != std::string::npos) return make_error("--cmdline contains a NUL byte");
  if (config.cmdline.size() + 1 > limit) {
    return make_error("--cmdline is " + std::to_string(config.cmdline.size()) + " bytes; this kernel takes at most " +
                      std::to_string(limit - 1));
  }
  if (!is_linux || config.linux_extra_args.empty()) return CommandLine{config.cmdline, {}};
  std::string combined = config.cmdline.empty() ? config.linux_extra_args : config.cmdline + " " + config.linux_extra_args;
  if (combined.size() + 1 <= limit) return CommandLine{std::move(combined), {}};
  return CommandLine{config.cmdline,
                     {"left the CPU template's Linux options off the kernel command line (with them it would be " +
                      std::to_string(combined.size()) + " bytes; this kernel takes at most " +
                      std::to_string(limit - 1) + "): " + config.linux_extra_args}};
}

Result<void> write_cmdline(const GuestMemory& memory, const std::string& cmdline) {
  std::vector<uint8_t> bytes(cmdline.begin(), cmdline.end());
  bytes.push_back(0);
  return memory.write(kCmdlineAddress, bytes);
}

struct LoadedInitrd {
  uint64_t address = 0;
  uint64_t size = 0;
};

// Reads the initrd straight into guest RAM at the place chosen for it.
Result<LoadedInitrd> load_initrd(const GuestMemory& memory, const BootConfig& config, uint64_t kernel_end,
                                 uint64_t highest_address) {
  if (config.initrd_path.empty()) return LoadedInitrd{};
  uint64_t size = 0;
  UniqueFd fd = VMHIVE_TRY(open_file("initrd", config.initrd_path, size));
  auto address = boot::place_initrd(size, {config.memory_size, kernel_end, highest_address});
  if (!address.ok()) return make_error("initrd " + config.initrd_path + " " + address.error().message);
  auto destination = VMHIVE_TRY(memory.slice(*address, size));
  VMHIVE_CHECK(read_exactly(fd.get(), destination, "initrd", config.initrd_path));
  return LoadedInitrd{*address, size};
}

Result<BootEntry> load_bzimage(const GuestMemory& memory, const BootConfig& config, std::span<const uint8_t> file) {
  boot::BzImage image = VMHIVE_TRY(boot::parse_bzimage(file));
  const uint64_t kernel_end = image.load_address + image.memory_needed;
  if (kernel_end > low_ram_end(config.memory_size)) {
    return make_error("needs RAM up to " + std::to_string(kernel_end >> 20) + " MiB to unpack itself; give the VM more --mem");
  }
  VMHIVE_CHECK(memory.write(image.load_address, file.subspan(image.kernel_offset, image.kernel_size)));
  // What syssize rounds past the end of the file reads as zeros, whatever
  // the RAM held before.
  VMHIVE_CHECK(memory.fill(image.load_address + image.kernel_size, 0, image.kernel_declared_size - image.kernel_size));
  const uint64_t cmdline_limit = image.header.cmdline_size != 0 ? uint64_t{image.header.cmdline_size} + 1 : 256;
  CommandLine cmdline = VMHIVE_TRY(choose_cmdline(config, image.is_linux, std::min(cmdline_limit, kCmdlineMaxSize)));
  VMHIVE_CHECK(write_cmdline(memory, cmdline.text));
  const uint64_t initrd_max = image.header.initrd_addr_max != 0 ? image.header.initrd_addr_max : 0x37ffffff;
  LoadedInitrd initrd = VMHIVE_TRY(load_initrd(memory, config, kernel_end, initrd_max));
  boot::BootParams params = VMHIVE_TRY(boot::make_zero_page(
      image, {kCmdlineAddress, initrd.address, initrd.size, config.rsdp_address, e820_map(config.memory_size)}));
  VMHIVE_CHECK(memory.write_obj(kZeroPageAddress, params));
  constexpr uint64_t kEntry64Offset = 0x200;  // boot.rst: the 64-bit entry is 0x200 past the load address
  return BootEntry{EntryMode::kLinux64, image.load_address + kEntry64Offset, kZeroPageAddress,
                   std::move(cmdline.warnings), {}};
}

Result<void> write_start_info(const GuestMemory& memory, const BootConfig& config, const LoadedInitrd& initrd) {
  const auto e820 = e820_map(config.memory_size);
  if (e820.size() > kPvhMemmapMaxEntries) return make_error("the memory map does not fit the PVH start info");
  for (size_t i = 0; i < e820.size(); ++i) {
    boot::HvmMemmapEntry entry{e820[i].address, e820[i].size, static_cast<uint32_t>(e820[i].type), 0};
    VMHIVE_CHECK(memory.write_obj(kPvhMemmapAddress + i * sizeof entry, entry));
  }
  boot::HvmStartInfo info{};
  info.magic = boot::kHvmStartMagic;
  info.version = 1;
  info.cmdline_paddr = kCmdlineAddress;
  info.rsdp_paddr = config.rsdp_address;
  info.memmap_paddr = kPvhMemmapAddress;
  info.memmap_entries = static_cast<uint32_t>(e820.size());
  if (initrd.size != 0) {
    VMHIVE_CHECK(memory.write_obj(kPvhModlistAddress, boot::HvmModlistEntry{initrd.address, initrd.size, 0, 0}));
    info.nr_modules = 1;
    info.modlist_paddr = kPvhModlistAddress;
  }
  return memory.write_obj(kPvhStartInfoAddress, info);
}

Result<BootEntry> load_elf_pvh(const GuestMemory& memory, const BootConfig& config, std::span<const uint8_t> file) {
  boot::ElfPvhImage image = VMHIVE_TRY(boot::parse_elf_pvh(file));
  for (const auto& segment : image.segments) {
    if (segment.guest_address < kHighMemoryStart) {
      return make_error("a segment would load below 1 MiB, over the boot structures");
    }
    if (!memory.contains(segment.guest_address, segment.memory_size)) {
      return make_error("needs RAM up to " + std::to_string((segment.guest_address + segment.memory_size) >> 20) +
                        " MiB; give the VM more --mem");
    }
    VMHIVE_CHECK(memory.write(segment.guest_address, file.subspan(segment.file_offset, segment.file_size)));
    VMHIVE_CHECK(memory.fill(segment.guest_address + segment.file_size, 0, segment.memory_size - segment.file_size));
  }
  CommandLine cmdline = VMHIVE_TRY(choose_cmdline(config, image.is_linux, kCmdlineMaxSize));
  VMHIVE_CHECK(write_cmdline(memory, cmdline.text));
  LoadedInitrd initrd = VMHIVE_TRY(load_initrd(memory, config, image.end_address, UINT32_MAX));
  VMHIVE_CHECK(write_start_info(memory, config, initrd));
  BootEntry entry{EntryMode::kPvh32, image.entry, kPvhStartInfoAddress, std::move(cmdline.warnings), {}};
  constexpr uint64_t kPage = 4096;
  for (const auto& segment : image.segments) {
    if (!segment.read_only_executable) continue;
    // Whole pages: the segment's start page to its last; a writable segment
    // sharing its last page would be protected too, so that page is left out.
    const uint64_t start = segment.guest_address & ~(kPage - 1);
    uint64_t end = (segment.guest_address + segment.memory_size + kPage - 1) & ~(kPage - 1);
    for (const auto& other : image.segments)
      if (!other.read_only_executable && other.guest_address < end && other.guest_address + other.memory_size > start)
        end = std::max(start, other.guest_address & ~(kPage - 1));
    if (end > start) entry.text.push_back(GuestRange{start, end - start});
  }
  return entry;
}

}  // namespace

Result<BootEntry> load_kernel(const GuestMemory& memory, const BootConfig& config) {
  const std::vector<uint8_t> file = VMHIVE_TRY(read_kernel(config.kernel_path));
  Result<BootEntry> entry = make_error("neither a bzImage nor an ELF with a PVH entry note");
  if (boot::looks_like_elf(file)) {
    entry = load_elf_pvh(memory, config, file);
  } else if (boot::looks_like_bzimage(file)) {
    entry = load_bzimage(memory, config, file);
  }
  if (!entry.ok()) {
    const std::string& message = entry.error().message;
    // Errors that already name the initrd or the command line stand alone.
    if (message.rfind("initrd ", 0) == 0 || message.rfind("--cmdline", 0) == 0) return entry;
    return with_context("kernel " + config.kernel_path, entry.error());
  }
  return entry;
}

}  // namespace vmhive::x86
