#include "arch/x86/acpi/acpi_tables.h"
#include "arch/x86/acpi/pci_host.h"

#include <cstring>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "arch/x86/acpi/aml.h"
#include "arch/x86/acpi/fadt.h"
#include "arch/x86/acpi/root_pointers.h"
#include "arch/x86/layout.h"

namespace vmhive::x86::acpi {
namespace {

constexpr uint64_t kBase = 0xe0000;

template <class T>
T read_at(const TablesImage& image, uint64_t address) {
  T value;
  std::memcpy(&value, image.bytes.data() + (address - image.base), sizeof(T));
  return value;
}

std::span<const uint8_t> table_at(const TablesImage& image, uint64_t address) {
  auto header = read_at<SdtHeader>(image, address);
  return std::span(image.bytes).subspan(address - image.base, header.length);
}

std::string signature_at(const TablesImage& image, uint64_t address) {
  return std::string(reinterpret_cast<const char*>(image.bytes.data() + (address - image.base)), 4);
}

// Signature -> address, for the tables the XSDT lists.
std::map<std::string, uint64_t> xsdt_entries(const TablesImage& image) {
  auto rsdp = read_at<Rsdp>(image, image.base);
  auto xsdt = read_at<SdtHeader>(image, rsdp.xsdt_address);
  std::map<std::string, uint64_t> entries;
  for (uint64_t offset = sizeof(SdtHeader); offset < xsdt.length; offset += 8) {
    auto address = read_at<uint64_t>(image, rsdp.xsdt_address + offset);
    entries[signature_at(image, address)] = address;
  }
  return entries;
}

TablesImage lay_out(uint32_t cpus) {
  AcpiConfig config;
  config.cpu_count = cpus;
  auto image = lay_out_tables(config, kBase);
  EXPECT_TRUE(image.ok()) << image.error().message;
  return std::move(*image);
}

TEST(AcpiTables, RsdpPointsAtTheXsdtWithValidChecksums) {
  auto image = lay_out(2);
  auto rsdp = read_at<Rsdp>(image, kBase);
  EXPECT_EQ(std::memcmp(rsdp.signature, "RSD PTR ", 8), 0);
  EXPECT_EQ(rsdp.revision, 2);
  EXPECT_EQ(rsdp.length, sizeof(Rsdp));
  EXPECT_EQ(rsdp.rsdt_address, 0u);
  EXPECT_EQ(byte_sum(std::span(image.bytes).first(kRsdpV1Size)), 0);
  EXPECT_EQ(byte_sum(std::span(image.bytes).first(sizeof(Rsdp))), 0);
  EXPECT_EQ(signature_at(image, rsdp.xsdt_address), "XSDT");
  EXPECT_EQ(rsdp.xsdt_address % 16, 0u);
}

TEST(AcpiTables, EveryTableChecksumsToZero) {
  auto image = lay_out(4);
  auto entries = xsdt_entries(image);
  auto rsdp = read_at<Rsdp>(image, kBase);
  entries["XSDT"] = rsdp.xsdt_address;
  entries["DSDT"] = read_at<Fadt>(image, entries.at("FACP")).x_dsdt;
  for (const auto& [signature, address] : entries) {
    EXPECT_EQ(byte_sum(table_at(image, address)), 0) << signature;
    EXPECT_EQ(address % 16, 0u) << signature;
  }
}

TEST(AcpiTables, XsdtListsFadtAndMadtButNotDsdt) {
  auto entries = xsdt_entries(lay_out(1));
  EXPECT_EQ(entries.size(), 2u);
  EXPECT_TRUE(entries.count("FACP"));
  EXPECT_TRUE(entries.count("APIC"));
  EXPECT_FALSE(entries.count("DSDT"));
}

TEST(AcpiTables, FadtIsHardwareReducedWithSleepRegisters) {
  auto image = lay_out(1);
  auto fadt = read_at<Fadt>(image, xsdt_entries(image).at("FACP"));
  EXPECT_EQ(fadt.header.length, sizeof(Fadt));
  EXPECT_EQ(fadt.header.revision, 6);
  EXPECT_NE(fadt.flags & kFadtHwReducedAcpi, 0u);
  EXPECT_EQ(fadt.sleep_control_reg.address_space_id, 1);  // system I/O
  EXPECT_EQ(fadt.sleep_control_reg.address, kSleepControlPort);
  EXPECT_EQ(fadt.sleep_control_reg.register_bit_width, 8);
  EXPECT_EQ(fadt.sleep_status_reg.address, kSleepStatusPort);
  EXPECT_EQ(signature_at(image, fadt.x_dsdt), "DSDT");
  EXPECT_EQ(fadt.pm1a_cnt_blk, 0u);
  EXPECT_EQ(fadt.sci_int, 0);
}

struct MadtContents {
  uint32_t local_apic_address = 0;
  std::vector<std::pair<uint8_t, uint8_t>> local_apics;  // uid, apic id
  std::vector<uint8_t> io_apic_ids;
  uint32_t io_apic_address = 0;
  std::map<uint8_t, std::pair<uint32_t, uint16_t>> overrides;  // source irq -> gsi, flags
  int nmi_entries = 0;
};

MadtContents parse_madt(std::span<const uint8_t> madt) {
  MadtContents contents;
  std::memcpy(&contents.local_apic_address, madt.data() + 36, 4);
  for (size_t offset = 44; offset < madt.size();) {
    uint8_t type = madt[offset], length = madt[offset + 1];
    EXPECT_GE(length, 2);
    if (length < 2) break;
    if (type == 0) contents.local_apics.push_back({madt[offset + 2], madt[offset + 3]});
    if (type == 1) {
      contents.io_apic_ids.push_back(madt[offset + 2]);
      std::memcpy(&contents.io_apic_address, madt.data() + offset + 4, 4);
    }
    if (type == 2) {
      uint32_t gsi;
      uint16_t flags;
      std::memcpy(&gsi, madt.data() + offset + 4, 4);
      std::memcpy(&flags, madt.data() + offset + 8, 2);
      contents.overrides[madt[offset + 3]] = {gsi, flags};
    }
    if (type == 4) contents.nmi_entries++;
    offset += length;
  }
  return contents;
}

TEST(AcpiTables, MadtDescribesEachCpuAndTheIoApic) {
  for (uint32_t cpus : {1u, 2u, 4u, 254u}) {
    auto image = lay_out(cpus);
    auto madt = parse_madt(table_at(image, xsdt_entries(image).at("APIC")));
    EXPECT_EQ(madt.local_apic_address, 0xfee00000u);
    ASSERT_EQ(madt.local_apics.size(), cpus);
    for (uint32_t cpu = 0; cpu < cpus; ++cpu) {
      EXPECT_EQ(madt.local_apics[cpu].first, cpu);
      EXPECT_EQ(madt.local_apics[cpu].second, cpu);
    }
    ASSERT_EQ(madt.io_apic_ids.size(), 1u);
    EXPECT_EQ(madt.io_apic_ids[0], cpus);
    EXPECT_EQ(madt.io_apic_address, 0xfec00000u);
    EXPECT_EQ(madt.overrides.at(0).first, 2u);       // PIT on GSI 2
    EXPECT_EQ(madt.overrides.at(9).second, 0x000du);  // SCI level, active high
    EXPECT_EQ(madt.nmi_entries, 1);
  }
}

TEST(AcpiTables, DsdtHasSoftOffAndTheIsaDevices) {
  auto image = lay_out(1);
  auto fadt = read_at<Fadt>(image, xsdt_entries(image).at("FACP"));
  auto dsdt = table_at(image, fadt.x_dsdt);
  std::string text(dsdt.begin(), dsdt.end());
  // Name(\_S5_, Package(2) {5, 0}): NameOp '\' "_S5_" PackageOp len 2 BytePrefix 5 ZeroOp.
  const std::string s5 = std::string("\x08\\_S5_\x12", 7) + std::string("\x05\x02\x0a\x05\x00", 5);
  EXPECT_NE(text.find(s5), std::string::npos);
  EXPECT_NE(text.find("COM1"), std::string::npos);
  EXPECT_NE(text.find("RTC_"), std::string::npos);
  // EISAID("PNP0501") as a DWord constant.
  const std::string com_hid = std::string("_HID\x0c\x41\xd0\x05\x01", 9);
  EXPECT_NE(text.find(com_hid), std::string::npos);
}

TEST(AcpiTables, ExtraDevicesAndTablesAreIncluded) {
  AcpiConfig config;
  config.cpu_count = 1;
  config.extra_devices.push_back(aml::device("PCI0", {aml::name("_HID", aml::eisa_id("PNP0A08"))}));
  std::vector<uint8_t> mcfg;
  append_bytes(mcfg, make_sdt_header("MCFG", 1));
  config.extra_tables.push_back(seal_table(mcfg));
  auto image = lay_out_tables(config, kBase);
  ASSERT_TRUE(image.ok()) << image->bytes.size();
  EXPECT_TRUE(xsdt_entries(*image).count("MCFG"));
  auto fadt = read_at<Fadt>(*image, xsdt_entries(*image).at("FACP"));
  auto dsdt = table_at(*image, fadt.x_dsdt);
  EXPECT_NE(std::string(dsdt.begin(), dsdt.end()).find("PCI0"), std::string::npos);
  EXPECT_EQ(byte_sum(dsdt), 0);
}

TEST(AcpiTables, PciHostBridgeAndMcfgDescribeOurWindows) {
  const PciHostWindows windows{0xe0000000, 0, 0xc0000000, 0xdfffffff};
  AcpiConfig config;
  config.extra_devices = pci_host_devices(windows);
  config.extra_tables.push_back(build_mcfg(windows));
  auto image = lay_out_tables(config, kBase);
  ASSERT_TRUE(image.ok()) << image.error().message;
  const uint64_t mcfg_address = xsdt_entries(*image).at("MCFG");
  auto mcfg = table_at(*image, mcfg_address);
  EXPECT_EQ(byte_sum(mcfg), 0);
  ASSERT_EQ(mcfg.size(), sizeof(SdtHeader) + 8 + 16);
  uint64_t ecam_base;
  std::memcpy(&ecam_base, mcfg.data() + sizeof(SdtHeader) + 8, 8);
  EXPECT_EQ(ecam_base, 0xe0000000u);
  EXPECT_EQ(mcfg[sizeof(SdtHeader) + 8 + 10], 0) << "first bus";
  EXPECT_EQ(mcfg[sizeof(SdtHeader) + 8 + 11], 0) << "last bus";
  auto fadt = read_at<Fadt>(*image, xsdt_entries(*image).at("FACP"));
  auto dsdt = table_at(*image, fadt.x_dsdt);
  const std::string aml(dsdt.begin(), dsdt.end());
  EXPECT_NE(aml.find("PCI0"), std::string::npos);
  EXPECT_NE(aml.find("MRES"), std::string::npos);
  // The 32-bit window as a DWord memory descriptor: min and max in little-endian.
  const std::string window_min("\x00\x00\x00\xc0", 4), window_max("\xff\xff\xff\xdf", 4);
  EXPECT_NE(aml.find(window_min + window_max), std::string::npos);
  EXPECT_EQ(byte_sum(dsdt), 0);
}

TEST(AcpiTables, CpuCountOutOfRangeIsAnError) {
  for (uint32_t cpus : {0u, 255u, 1000u}) {
    AcpiConfig config;
    config.cpu_count = cpus;
    auto image = lay_out_tables(config, kBase);
    ASSERT_FALSE(image.ok()) << cpus;
    EXPECT_NE(image.error().message.find(std::to_string(cpus)), std::string::npos);
  }
}

TEST(AcpiTables, WriteTablesPutsThemAtTheBiosArea) {
  auto memory = GuestMemory::create({{0, 2 << 20}});
  ASSERT_TRUE(memory.ok());
  AcpiConfig config;
  config.cpu_count = 2;
  auto rsdp = write_tables(*memory, config);
  ASSERT_TRUE(rsdp.ok()) << rsdp.error().message;
  EXPECT_EQ(*rsdp, kAcpiTablesAddress);
  auto bytes = memory->read_obj<Rsdp>(*rsdp);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(std::memcmp(bytes->signature, "RSD PTR ", 8), 0);
}

TEST(Aml, PackageLengthEncodings) {
  EXPECT_EQ(aml::package_length(0), (aml::Bytes{0x01}));
  EXPECT_EQ(aml::package_length(62), (aml::Bytes{0x3f}));  // 62 + 1 length byte = 63
  EXPECT_EQ(aml::package_length(63).size(), 2u);           // 64 does not fit 6 bits
  auto two = aml::package_length(63);
  EXPECT_EQ((two[0] & 0x0f) | (two[1] << 4), 65);
  EXPECT_EQ(two[0] >> 6, 1);
  EXPECT_EQ(aml::package_length(5000).size(), 3u);
}

TEST(Aml, IntegersUseTheShortestForm) {
  EXPECT_EQ(aml::integer(0), (aml::Bytes{0x00}));
  EXPECT_EQ(aml::integer(1), (aml::Bytes{0x01}));
  EXPECT_EQ(aml::integer(5), (aml::Bytes{0x0a, 0x05}));
  EXPECT_EQ(aml::integer(0x1234), (aml::Bytes{0x0b, 0x34, 0x12}));
  EXPECT_EQ(aml::integer(0x12345678), (aml::Bytes{0x0c, 0x78, 0x56, 0x34, 0x12}));
  EXPECT_EQ(aml::integer(0x100000000ull).size(), 9u);
}

TEST(Aml, NamesAndEisaIds) {
  aml::NameString root_path = "\\_SB_.PCI0";
  auto encoded = root_path.encoded();
  EXPECT_EQ(std::string(encoded.begin(), encoded.end()), std::string("\\\x2e_SB_PCI0", 10));
  aml::NameString padded = "RTC";
  EXPECT_EQ(std::string(padded.encoded().begin(), padded.encoded().end()), "RTC_");
  EXPECT_EQ(aml::EisaId("PNP0A08").value(), 0x080ad041u);
  EXPECT_FALSE(aml::NameString::parse("1BAD").ok());
  EXPECT_FALSE(aml::NameString::parse("TOOLONG").ok());
  EXPECT_FALSE(aml::EisaId::parse("pnp0a08").ok());
  EXPECT_TRUE(aml::NameString::parse("^^CPU0").ok());
}

}  // namespace
}  // namespace vmhive::x86::acpi
