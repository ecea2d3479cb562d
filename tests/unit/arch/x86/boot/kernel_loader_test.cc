// The kernel loaders on synthetic images: a minimal bzImage and a minimal
// ELF with a PVH note, good and corrupted.
#include "arch/x86/boot/kernel_loader.h"

#include <elf.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "arch/x86/boot/boot_params.h"
#include "arch/x86/boot/bzimage.h"
#include "arch/x86/boot/elf_pvh.h"
#include "arch/x86/boot/initrd_placement.h"
#include "arch/x86/layout.h"

namespace vmhive::x86 {
namespace {

using boot::BootParams;
using boot::SetupHeader;

constexpr uint64_t kMemory = 64ull << 20;

std::vector<uint8_t> make_bzimage(size_t kernel_bytes = 8192) {
  const uint8_t setup_sects = 4;
  std::vector<uint8_t> image((setup_sects + 1) * 512 + kernel_bytes, 0);
  SetupHeader header{};
  header.setup_sects = setup_sects;
  header.syssize = static_cast<uint32_t>(kernel_bytes / 16);
  header.boot_flag = 0xaa55;
  header.header = boot::kHeaderMagic;
  header.version = 0x020f;
  header.loadflags = boot::kLoadedHigh;
  header.initrd_addr_max = 0x7fffffff;
  header.kernel_alignment = 0x200000;
  header.relocatable_kernel = 1;
  header.xloadflags = boot::kXlfKernel64;
  header.cmdline_size = 2047;
  header.pref_address = 0x1000000;
  header.init_size = 0x800000;
  std::memcpy(image.data() + boot::kSetupHeaderOffset, &header, sizeof header);
  for (size_t i = 0; i < kernel_bytes; ++i) image[(setup_sects + 1) * 512 + i] = static_cast<uint8_t>(i * 7);
  return image;
}

SetupHeader& header_of(std::vector<uint8_t>& image) {
  return *reinterpret_cast<SetupHeader*>(image.data() + boot::kSetupHeaderOffset);
}

constexpr const char* kDebianVersion =
    "6.1.0-57-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-26)";

// Puts `version` in the setup code at `offset` and points kernel_version at
// it (boot.rst: the field holds the offset less 0x200).
void set_version_string(std::vector<uint8_t>& image, const std::string& version, size_t offset = 0x400) {
  std::memcpy(image.data() + offset, version.c_str(), version.size() + 1);
  header_of(image).kernel_version = static_cast<uint16_t>(offset - 0x200);
}

// What Linux's build leaves in a bzImage: its version string in the setup code.
std::vector<uint8_t> make_linux_bzimage() {
  auto image = make_bzimage();
  set_version_string(image, kDebianVersion);
  return image;
}

// A tiny non-Linux kernel on the same boot protocol: a valid setup header,
// a 64-bit entry at +0x200 that writes 0 to the debug-exit port and halts
// (mov $0,%al; out %al,$0xf4; hlt), its own version string, and the short
// command-line limit of a small kernel.
std::vector<uint8_t> make_tiny_kernel_bzimage() {
  auto image = make_bzimage(0x400);
  const uint8_t entry64[] = {0xb0, 0x00, 0xe6, 0xf4, 0xf4};
  std::memcpy(image.data() + 5 * 512 + 0x200, entry64, sizeof entry64);
  set_version_string(image, "tinykernel 0.3 (64-bit, boot protocol 2.15)");
  header_of(image).cmdline_size = 255;
  return image;
}

// An ELF64 executable: one PT_LOAD at 1 MiB (code + bss) and a PT_NOTE with the PVH entry.
std::vector<uint8_t> make_elf(uint32_t entry = 0x100010, uint32_t note_type = 18, uint32_t desc_size = 4) {
  std::vector<uint8_t> image(0x2000, 0);
  Elf64_Ehdr ehdr{};
  std::memcpy(ehdr.e_ident, ELFMAG, SELFMAG);
  ehdr.e_ident[EI_CLASS] = ELFCLASS64;
  ehdr.e_ident[EI_DATA] = ELFDATA2LSB;
  ehdr.e_ident[EI_VERSION] = EV_CURRENT;
  ehdr.e_type = ET_EXEC;
  ehdr.e_machine = EM_X86_64;
  ehdr.e_version = EV_CURRENT;
  ehdr.e_entry = entry;
  ehdr.e_phoff = sizeof ehdr;
  ehdr.e_ehsize = sizeof ehdr;
  ehdr.e_phentsize = sizeof(Elf64_Phdr);
  ehdr.e_phnum = 2;
  std::memcpy(image.data(), &ehdr, sizeof ehdr);

  Elf64_Phdr load{};
  load.p_type = PT_LOAD;
  load.p_offset = 0x1000;
  load.p_paddr = load.p_vaddr = 0x100000;
  load.p_filesz = 0x100;
  load.p_memsz = 0x3000;
  Elf64_Phdr note{};
  note.p_type = PT_NOTE;
  note.p_offset = 0x800;
  note.p_filesz = sizeof(Elf64_Nhdr) + 4 + ((desc_size + 3) & ~3u);
  std::memcpy(image.data() + sizeof ehdr, &load, sizeof load);
  std::memcpy(image.data() + sizeof ehdr + sizeof load, &note, sizeof note);

  Elf64_Nhdr nhdr{4, desc_size, note_type};
  std::memcpy(image.data() + 0x800, &nhdr, sizeof nhdr);
  std::memcpy(image.data() + 0x800 + sizeof nhdr, "Xen", 4);
  uint64_t entry64 = entry;
  std::memcpy(image.data() + 0x800 + sizeof nhdr + 4, &entry64, std::min<uint32_t>(desc_size, 8));
  for (size_t i = 0; i < 0x100; ++i) image[0x1000 + i] = static_cast<uint8_t>(0x90 + i);
  return image;
}

Elf64_Phdr& phdr_of(std::vector<uint8_t>& image, size_t index) {
  return *reinterpret_cast<Elf64_Phdr*>(image.data() + sizeof(Elf64_Ehdr) + index * sizeof(Elf64_Phdr));
}

class KernelLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto memory = GuestMemory::create(ram_regions(kMemory));
    ASSERT_TRUE(memory.ok());
    memory_ = std::make_unique<GuestMemory>(std::move(*memory));
  }
  std::string write_file(const std::string& name, const std::vector<uint8_t>& bytes) {
    std::string path = ::testing::TempDir() + "kernel-loader-" + name;
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                static_cast<std::streamsize>(bytes.size()));
    return path;
  }
  BootConfig config(const std::string& kernel, const std::string& initrd = "", const std::string& cmdline = "quiet") {
    return BootConfig{kernel, initrd, cmdline, kMemory, 0xe0000, ""};
  }
  std::string read_cmdline() {
    std::vector<uint8_t> bytes(64);
    EXPECT_TRUE(memory_->read(kCmdlineAddress, bytes).ok());
    return reinterpret_cast<const char*>(bytes.data());
  }
  std::unique_ptr<GuestMemory> memory_;
};

TEST_F(KernelLoaderTest, BzImageLoadsWithAZeroPage) {
  auto image = make_bzimage();
  auto initrd = write_file("initrd", std::vector<uint8_t>(10000, 0xab));
  auto entry = load_kernel(*memory_, config(write_file("bz", image), initrd, "console=ttyS0"));
  ASSERT_TRUE(entry.ok()) << entry.error().message;
  EXPECT_EQ(entry->mode, EntryMode::kLinux64);
  EXPECT_EQ(entry->entry_point, 0x1000200u);
  EXPECT_EQ(entry->boot_info_address, kZeroPageAddress);

  std::vector<uint8_t> kernel(8192);
  ASSERT_TRUE(memory_->read(0x1000000, kernel).ok());
  EXPECT_TRUE(std::equal(kernel.begin(), kernel.end(), image.begin() + 5 * 512));

  auto params = memory_->read_obj<BootParams>(kZeroPageAddress);
  ASSERT_TRUE(params.ok());
  EXPECT_EQ(params->header.type_of_loader, 0xff);
  EXPECT_NE(params->header.loadflags & boot::kCanUseHeap, 0);
  EXPECT_EQ(params->header.cmd_line_ptr, kCmdlineAddress);
  EXPECT_EQ(read_cmdline(), "console=ttyS0");
  EXPECT_EQ(params->acpi_rsdp_addr, 0xe0000u);
  EXPECT_EQ(params->header.ramdisk_size, 10000u);
  EXPECT_EQ(params->header.ramdisk_image % 4096, 0u);
  EXPECT_GE(params->header.ramdisk_image, 0x1000000u + 0x800000u);
  EXPECT_LE(params->header.ramdisk_image + 10000u, kMemory);
  EXPECT_EQ(*memory_->read_obj<uint8_t>(params->header.ramdisk_image), 0xab);

  auto e820 = e820_map(kMemory);
  ASSERT_EQ(params->e820_entries, e820.size());
  for (size_t i = 0; i < e820.size(); ++i) {
    EXPECT_EQ(params->e820_table[i].address, e820[i].address);
    EXPECT_EQ(params->e820_table[i].size, e820[i].size);
    EXPECT_EQ(params->e820_table[i].type, static_cast<uint32_t>(e820[i].type));
  }
}

TEST_F(KernelLoaderTest, BzImageCorruptionsAreErrors) {
  struct Case {
    const char* name;
    void (*corrupt)(std::vector<uint8_t>&);
    const char* expected;
  };
  const Case cases[] = {
      {"boot flag", [](auto& image) { header_of(image).boot_flag = 0x1234; }, "boot flag"},
      {"old protocol", [](auto& image) { header_of(image).version = 0x0206; }, "too old"},
      {"no 64-bit entry", [](auto& image) { header_of(image).xloadflags = 0; }, "64-bit"},
      {"not loaded high", [](auto& image) { header_of(image).loadflags = 0; }, "high"},
      {"syssize past end", [](auto& image) { header_of(image).syssize = 0x100000; }, "truncated bzImage"},
      {"setup_sects past end", [](auto& image) { header_of(image).setup_sects = 255; }, "truncated bzImage"},
      {"load below 1M", [](auto& image) { header_of(image).pref_address = 0x1000; }, "outside"},
      {"misaligned", [](auto& image) { header_of(image).pref_address = 0x1000100; }, "alignment"},
      {"huge init_size", [](auto& image) { header_of(image).init_size = 0x7fffffff; }, "more --mem"},
  };
  for (const auto& each : cases) {
    auto image = make_bzimage();
    each.corrupt(image);
    auto entry = load_kernel(*memory_, config(write_file("bad-bz", image)));
    ASSERT_FALSE(entry.ok()) << each.name;
    EXPECT_NE(entry.error().message.find(each.expected), std::string::npos) << each.name << ": " << entry.error().message;
    EXPECT_EQ(entry.error().message.rfind("kernel ", 0), 0u) << entry.error().message;
  }
}

// syssize counts 16-byte paragraphs; a kernel whose length is not a multiple
// of 16 declares up to 15 bytes more than the file holds (GRUB and QEMU load it).
TEST(BzImageParse, SyssizeRoundingPastTheEndIsAccepted) {
  for (size_t missing : {1u, 7u, 15u}) {
    auto image = make_bzimage(8192);
    image.resize(image.size() - missing);
    auto parsed = boot::parse_bzimage(image);
    ASSERT_TRUE(parsed.ok()) << missing << ": " << parsed.error().message;
    EXPECT_EQ(parsed->kernel_offset, 5u * 512);
    EXPECT_EQ(parsed->kernel_size, 8192u - missing);
    EXPECT_EQ(parsed->kernel_declared_size, 8192u);
  }
}

TEST(BzImageParse, ShortByAWholeParagraphIsTruncated) {
  for (size_t missing : {16u, 17u, 4096u}) {
    auto image = make_bzimage(8192);
    image.resize(image.size() - missing);
    auto parsed = boot::parse_bzimage(image);
    ASSERT_FALSE(parsed.ok()) << missing;
    EXPECT_NE(parsed.error().message.find("truncated bzImage"), std::string::npos) << parsed.error().message;
  }
}

TEST_F(KernelLoaderTest, RoundedSyssizeTailIsZeroInGuestMemory) {
  auto image = make_bzimage(8192);
  image.resize(image.size() - 5);
  // Whatever RAM held before, the 5 bytes the file lacks must read as zeros.
  ASSERT_TRUE(memory_->fill(0x1000000, 0xee, 8192 + 16).ok());
  auto entry = load_kernel(*memory_, config(write_file("bz-rounded", image)));
  ASSERT_TRUE(entry.ok()) << entry.error().message;
  std::vector<uint8_t> kernel(8192 + 16);
  ASSERT_TRUE(memory_->read(0x1000000, kernel).ok());
  EXPECT_TRUE(std::equal(kernel.begin(), kernel.begin() + 8187, image.begin() + 5 * 512));
  for (size_t i = 8187; i < 8192; ++i) EXPECT_EQ(kernel[i], 0) << "byte " << i;
  EXPECT_EQ(kernel[8192], 0xee);  // past what syssize declares: not the loader's to touch
}

TEST_F(KernelLoaderTest, BzImageCommandLineLimit) {
  auto image = make_bzimage();
  header_of(image).cmdline_size = 15;
  auto path = write_file("bz-short-cmdline", image);
  EXPECT_TRUE(load_kernel(*memory_, config(path, "", std::string(15, 'x'))).ok());
  auto entry = load_kernel(*memory_, config(path, "", std::string(16, 'x')));
  ASSERT_FALSE(entry.ok());
  EXPECT_NE(entry.error().message.find("--cmdline"), std::string::npos) << entry.error().message;
}

TEST_F(KernelLoaderTest, ElfPvhLoadsWithStartInfo) {
  auto initrd = write_file("initrd", std::vector<uint8_t>(5000, 0xcd));
  auto entry = load_kernel(*memory_, config(write_file("pvh", make_elf()), initrd, "hello=1"));
  ASSERT_TRUE(entry.ok()) << entry.error().message;
  EXPECT_EQ(entry->mode, EntryMode::kPvh32);
  EXPECT_EQ(entry->entry_point, 0x100010u);
  EXPECT_EQ(entry->boot_info_address, kPvhStartInfoAddress);
  EXPECT_EQ(*memory_->read_obj<uint8_t>(0x100000), 0x90);
  EXPECT_EQ(*memory_->read_obj<uint8_t>(0x100000 + 0x2fff), 0);  // bss zeroed

  auto info = memory_->read_obj<boot::HvmStartInfo>(kPvhStartInfoAddress);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->magic, boot::kHvmStartMagic);
  EXPECT_EQ(info->version, 1u);
  EXPECT_EQ(info->cmdline_paddr, kCmdlineAddress);
  EXPECT_EQ(read_cmdline(), "hello=1");
  EXPECT_EQ(info->rsdp_paddr, 0xe0000u);
  auto e820 = e820_map(kMemory);
  ASSERT_EQ(info->memmap_entries, e820.size());
  for (size_t i = 0; i < e820.size(); ++i) {
    auto entry_i = memory_->read_obj<boot::HvmMemmapEntry>(info->memmap_paddr + i * sizeof(boot::HvmMemmapEntry));
    EXPECT_EQ(entry_i->addr, e820[i].address);
    EXPECT_EQ(entry_i->size, e820[i].size);
    EXPECT_EQ(entry_i->type, static_cast<uint32_t>(e820[i].type));
  }
  ASSERT_EQ(info->nr_modules, 1u);
  auto module = memory_->read_obj<boot::HvmModlistEntry>(info->modlist_paddr);
  EXPECT_EQ(module->size, 5000u);
  EXPECT_EQ(*memory_->read_obj<uint8_t>(module->paddr), 0xcd);
}

// The kernel's text (for --write-protect-text): its read-only executable
// segments in whole pages; a writable or a writable-and-executable segment
// is not text, and a bzImage says nothing.
TEST_F(KernelLoaderTest, ElfTextIsItsReadOnlyExecutableSegments) {
  auto image = make_elf();
  EXPECT_TRUE(load_kernel(*memory_, config(write_file("no-flags", image)))->text.empty()) << "no PF_X: no text";
  phdr_of(image, 0).p_flags = PF_R | PF_X;
  auto entry = load_kernel(*memory_, config(write_file("text", image)));
  ASSERT_TRUE(entry.ok()) << entry.error().message;
  ASSERT_EQ(entry->text.size(), 1u);
  EXPECT_EQ(entry->text[0], (GuestRange{0x100000, 0x3000})) << "0x100000 + 0x3000, whole pages";
  phdr_of(image, 0).p_flags = PF_R | PF_W | PF_X;
  EXPECT_TRUE(load_kernel(*memory_, config(write_file("rwx", image)))->text.empty());
}

TEST_F(KernelLoaderTest, TemplateArgumentsGoToLinuxOnly) {
  auto bz_config = config(write_file("bz-args", make_linux_bzimage()), "", "console=ttyS0");
  bz_config.linux_extra_args = "noxsave";
  auto bz_entry = load_kernel(*memory_, bz_config);
  ASSERT_TRUE(bz_entry.ok()) << bz_entry.error().message;
  EXPECT_EQ(read_cmdline(), "console=ttyS0 noxsave");
  EXPECT_TRUE(bz_entry->warnings.empty());

  auto elf_config = config(write_file("pvh-args", make_elf()), "", "action=poweroff");
  elf_config.linux_extra_args = "noxsave";
  ASSERT_TRUE(load_kernel(*memory_, elf_config).ok());
  EXPECT_EQ(read_cmdline(), "action=poweroff");  // a test guest, not Linux

  auto image = make_elf();
  // A second note in the same segment: XEN_ELFNOTE_GUEST_OS "linux".
  auto& note_segment = phdr_of(image, 1);
  const uint64_t at = note_segment.p_offset + note_segment.p_filesz;
  Elf64_Nhdr guest_os{4, 6, 6};
  std::memcpy(image.data() + at, &guest_os, sizeof guest_os);
  std::memcpy(image.data() + at + sizeof guest_os, "Xen", 4);
  std::memcpy(image.data() + at + sizeof guest_os + 4, "linux", 6);
  note_segment.p_filesz += sizeof guest_os + 4 + 8;
  auto linux_config = config(write_file("pvh-linux-args", image), "", "");
  linux_config.linux_extra_args = "noxsave";
  ASSERT_TRUE(load_kernel(*memory_, linux_config).ok());
  EXPECT_EQ(read_cmdline(), "noxsave");
}

// The pvm template's options, as long as they are: what made a short
// --cmdline too long for a small kernel.
const std::string kLongTemplateOptions = "noxsave clearcpuid=popcnt,smap " + std::string(400, 'x');

TEST_F(KernelLoaderTest, NonLinuxBzImageGetsOnlyTheUsersCommandLine) {
  for (bool with_version : {false, true}) {
    auto image = make_tiny_kernel_bzimage();
    if (!with_version) header_of(image).kernel_version = 0;
    auto bz_config = config(write_file("bz-tiny", image), "", "debug-exit=0");
    bz_config.linux_extra_args = kLongTemplateOptions;
    auto entry = load_kernel(*memory_, bz_config);
    ASSERT_TRUE(entry.ok()) << entry.error().message;
    EXPECT_EQ(read_cmdline(), "debug-exit=0");
    EXPECT_TRUE(entry->warnings.empty());
    EXPECT_EQ(entry->entry_point, 0x1000200u);
    EXPECT_EQ(*memory_->read_obj<uint8_t>(0x1000200), 0xb0);  // the blob's entry is where the loader says
  }
}

TEST_F(KernelLoaderTest, OptionsThatDoNotFitAreLeftOffWithAWarning) {
  auto image = make_linux_bzimage();
  header_of(image).cmdline_size = 255;
  auto bz_config = config(write_file("bz-linux-255", image), "", "console=ttyS0 root=/dev/vda");
  bz_config.linux_extra_args = kLongTemplateOptions;
  auto entry = load_kernel(*memory_, bz_config);
  ASSERT_TRUE(entry.ok()) << entry.error().message;
  EXPECT_EQ(read_cmdline(), "console=ttyS0 root=/dev/vda");
  ASSERT_EQ(entry->warnings.size(), 1u);
  const std::string& warning = entry->warnings[0];
  EXPECT_EQ(warning.find('\n'), std::string::npos) << warning;
  EXPECT_NE(warning.find("at most 255"), std::string::npos) << warning;
  EXPECT_NE(warning.find(std::to_string(27 + 1 + kLongTemplateOptions.size()) + " bytes"), std::string::npos)
      << warning;
  EXPECT_NE(warning.find(kLongTemplateOptions), std::string::npos) << warning;

  // Exactly at the limit the options still go in.
  header_of(image).cmdline_size = static_cast<uint32_t>(27 + 1 + kLongTemplateOptions.size());
  bz_config.kernel_path = write_file("bz-linux-exact", image);
  entry = load_kernel(*memory_, bz_config);
  ASSERT_TRUE(entry.ok()) << entry.error().message;
  EXPECT_TRUE(entry->warnings.empty());
  EXPECT_EQ(read_cmdline().substr(0, 28), "console=ttyS0 root=/dev/vda ");
}

TEST_F(KernelLoaderTest, AUsersCommandLineTooLongAloneIsStillAnError) {
  auto image = make_linux_bzimage();
  header_of(image).cmdline_size = 255;
  auto bz_config = config(write_file("bz-linux-long", image), "", std::string(256, 'y'));
  bz_config.linux_extra_args = "noxsave";
  auto entry = load_kernel(*memory_, bz_config);
  ASSERT_FALSE(entry.ok());
  EXPECT_EQ(entry.error().message, "--cmdline is 256 bytes; this kernel takes at most 255");
}

TEST_F(KernelLoaderTest, LinuxElfOptionsThatDoNotFitAreLeftOffWithAWarning) {
  auto image = make_elf();
  auto& note_segment = phdr_of(image, 1);
  const uint64_t at = note_segment.p_offset + note_segment.p_filesz;
  Elf64_Nhdr guest_os{4, 6, 6};  // XEN_ELFNOTE_GUEST_OS "linux"
  std::memcpy(image.data() + at, &guest_os, sizeof guest_os);
  std::memcpy(image.data() + at + sizeof guest_os, "Xen", 4);
  std::memcpy(image.data() + at + sizeof guest_os + 4, "linux", 6);
  note_segment.p_filesz += sizeof guest_os + 4 + 8;
  auto elf_config = config(write_file("pvh-linux-long-args", image), "", "quiet");
  elf_config.linux_extra_args = std::string(kCmdlineMaxSize, 'z');
  auto entry = load_kernel(*memory_, elf_config);
  ASSERT_TRUE(entry.ok()) << entry.error().message;
  EXPECT_EQ(read_cmdline(), "quiet");
  ASSERT_EQ(entry->warnings.size(), 1u);
  EXPECT_NE(entry->warnings[0].find("at most " + std::to_string(kCmdlineMaxSize - 1)), std::string::npos);
}

TEST(LinuxVersionString, TheSetupHeaderPointsAtLinuxsVersion) {
  auto image = make_linux_bzimage();
  auto version = boot::linux_version_string(image, header_of(image));
  ASSERT_TRUE(version.has_value());
  EXPECT_EQ(*version, kDebianVersion);
  auto parsed = boot::parse_bzimage(image);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->is_linux);
  for (const char* linux_like : {"2.6.32 (root@build) #1", "5.10.0+ (a@b) #7 SMP", "6.12.0-rc1 (me@host)"}) {
    set_version_string(image, linux_like);
    EXPECT_TRUE(boot::linux_version_string(image, header_of(image)).has_value()) << linux_like;
  }
}

TEST(LinuxVersionString, AnythingElseIsNotLinux) {
  for (const char* other : {"", "tinykernel 0.3", "6.1.0", "6.1.0 (no-at-sign) #1", "6.1.0 (@host)", "6.1.0 (user@)",
                            "6 (a@b)", "v6.1.0 (a@b)", "6.1.0(a@b)", "6.1.0 (a@b", "6.1.0 (a@b) \x01",
                            ".1.0 (a@b)"}) {
    auto image = make_bzimage();
    set_version_string(image, other);
    EXPECT_FALSE(boot::linux_version_string(image, header_of(image)).has_value()) << other;
    auto parsed = boot::parse_bzimage(image);
    ASSERT_TRUE(parsed.ok());
    EXPECT_FALSE(parsed->is_linux) << other;
  }
}

TEST(LinuxVersionString, OnlyInsideTheSetupCode) {
  auto image = make_linux_bzimage();
  header_of(image).kernel_version = 0;  // no version string
  EXPECT_FALSE(boot::linux_version_string(image, header_of(image)).has_value());
  // Past the setup code (5 sectors), in the kernel proper: not the field's meaning.
  set_version_string(image, kDebianVersion, 5 * 512 + 16);
  EXPECT_FALSE(boot::linux_version_string(image, header_of(image)).has_value());
  // Starting inside but with its NUL past the end of the setup code.
  image = make_bzimage();
  const std::string version = kDebianVersion;
  set_version_string(image, version, 5 * 512 - 20);
  EXPECT_FALSE(boot::linux_version_string(image, header_of(image)).has_value());
  // A pointer past the end of a file cut short of its setup code.
  image = make_linux_bzimage();
  header_of(image).kernel_version = 0xff00;
  EXPECT_FALSE(boot::linux_version_string(image, header_of(image)).has_value());
  image.resize(0x300);
  header_of(image).kernel_version = 0x200;
  EXPECT_FALSE(boot::linux_version_string(image, header_of(image)).has_value());
}

TEST_F(KernelLoaderTest, ElfPvhEightByteNote) {
  auto entry = load_kernel(*memory_, config(write_file("pvh8", make_elf(0x100020, 18, 8))));
  ASSERT_TRUE(entry.ok()) << entry.error().message;
  EXPECT_EQ(entry->entry_point, 0x100020u);
}

TEST_F(KernelLoaderTest, ElfCorruptionsAreErrors) {
  struct Case {
    const char* name;
    std::vector<uint8_t> image;
    const char* expected;
  };
  std::vector<Case> cases;
  cases.push_back({"no PVH note", make_elf(0x100010, 17), "no PVH entry note"});
  cases.push_back({"odd note size", make_elf(0x100010, 18, 2), "4 or 8"});
  cases.push_back({"entry outside", make_elf(0x900000), "outside every loaded segment"});
  {
    auto image = make_elf();
    image[EI_CLASS] = ELFCLASS32;
    cases.push_back({"32-bit", image, "64-bit"});
  }
  {
    auto image = make_elf();
    reinterpret_cast<Elf64_Ehdr*>(image.data())->e_phoff = 0x1fff;
    cases.push_back({"phoff past end", image, "truncated ELF"});
  }
  {
    auto image = make_elf();
    reinterpret_cast<Elf64_Ehdr*>(image.data())->e_phoff = ~0ull - 8;
    cases.push_back({"phoff overflow", image, "truncated ELF"});
  }
  {
    auto image = make_elf();
    phdr_of(image, 0).p_filesz = 0x10000;
    cases.push_back({"segment past end", image, "truncated ELF"});
  }
  {
    auto image = make_elf();
    phdr_of(image, 0).p_memsz = 0x10;
    cases.push_back({"memsz below filesz", image, "smaller in memory"});
  }
  {
    auto image = make_elf();
    phdr_of(image, 0).p_paddr = 0x7fff0000;
    cases.push_back({"segment outside RAM", image, "outside every loaded segment"});
  }
  {
    auto image = make_elf();
    phdr_of(image, 0).p_paddr = ~0ull - 0x100;
    cases.push_back({"segment wraps", image, "wraps"});
  }
  {
    auto image = make_elf();
    auto* note = reinterpret_cast<Elf64_Nhdr*>(image.data() + 0x800);
    note->n_descsz = 0xfffffff0;
    cases.push_back({"note size overflow", image, "note"});
  }
  {
    auto image = make_elf();
    reinterpret_cast<Elf64_Ehdr*>(image.data())->e_type = ET_DYN;
    cases.push_back({"shared object", image, "PVH"});
  }
  {
    auto image = make_elf();
    image.resize(40);
    cases.push_back({"truncated", image, "truncated ELF"});
  }
  for (const auto& each : cases) {
    auto entry = load_kernel(*memory_, config(write_file("bad-elf", each.image)));
    ASSERT_FALSE(entry.ok()) << each.name;
    EXPECT_NE(entry.error().message.find(each.expected), std::string::npos) << each.name << ": " << entry.error().message;
  }
}

TEST_F(KernelLoaderTest, SegmentAboveRamNeedsMoreMemory) {
  auto image = make_elf(0x5000010);
  phdr_of(image, 0).p_paddr = 0x5000000;
  auto entry = load_kernel(*memory_, config(write_file("high-elf", image)));
  ASSERT_FALSE(entry.ok());
  EXPECT_NE(entry.error().message.find("--mem"), std::string::npos) << entry.error().message;
}

TEST_F(KernelLoaderTest, FilesThatAreNotKernels) {
  auto text = load_kernel(*memory_, config(write_file("text", {'h', 'e', 'l', 'l', 'o'})));
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.error().message.find("neither a bzImage nor an ELF"), std::string::npos);
  auto empty = load_kernel(*memory_, config(write_file("empty", {})));
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("is empty"), std::string::npos);
  auto missing = load_kernel(*memory_, config("/nonexistent/kernel"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("/nonexistent/kernel"), std::string::npos);
}

TEST_F(KernelLoaderTest, InitrdThatDoesNotFit) {
  auto initrd = write_file("huge-initrd", std::vector<uint8_t>(70 << 20, 0));
  auto entry = load_kernel(*memory_, config(write_file("pvh", make_elf()), initrd));
  ASSERT_FALSE(entry.ok());
  EXPECT_NE(entry.error().message.find("does not fit"), std::string::npos) << entry.error().message;
  EXPECT_EQ(entry.error().message.rfind("initrd ", 0), 0u) << entry.error().message;
}

TEST(InitrdPlacement, TopOfLowRamPageAligned) {
  auto address = boot::place_initrd(5000, {64 << 20, 2 << 20, UINT32_MAX});
  ASSERT_TRUE(address.ok());
  EXPECT_EQ(*address, (64u << 20) - 8192);
  // Above 3 GiB of RAM, the initrd stays below the PCI hole.
  address = boot::place_initrd(4096, {8ull << 30, 2 << 20, UINT32_MAX});
  EXPECT_EQ(*address, 0xc0000000u - 4096);
  // The kernel's own limit wins when lower.
  address = boot::place_initrd(4096, {8ull << 30, 2 << 20, 0x37ffffff});
  EXPECT_EQ(*address, 0x38000000u - 4096);
  EXPECT_FALSE(boot::place_initrd(63 << 20, {64 << 20, 2 << 20, UINT32_MAX}).ok());
}

}  // namespace
}  // namespace vmhive::x86
