// A type-0 configuration header: identity, what a driver may write, BAR
// sizing and moving (32- and 64-bit), the capability list, and restoring a
// snapshot's bytes (only what a driver could write may differ).
#include "devices/pci/config_space.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>

namespace vmhive::pci {
namespace {

constexpr DeviceIdentity kIdentity{0x1af4, 0x1044, 0x00ff00, 1, 0x1af4, 0x0004};

uint32_t read32(const ConfigSpace& space, uint16_t offset) {
  uint32_t value = 0;
  space.read(offset, std::span(reinterpret_cast<uint8_t*>(&value), 4));
  return value;
}

void write32(ConfigSpace& space, uint16_t offset, uint32_t value) {
  space.write(offset, std::span(reinterpret_cast<const uint8_t*>(&value), 4));
}

TEST(PciConfigSpace, IdentityIsReadOnly) {
  ConfigSpace space(kIdentity);
  EXPECT_EQ(read32(space, kVendorId), 0x10441af4u);
  EXPECT_EQ(read32(space, kRevisionId), 0x00ff0001u);
  EXPECT_EQ(read32(space, kSubsystemVendorId), 0x00041af4u);
  write32(space, kVendorId, 0);
  write32(space, kRevisionId, 0);
  EXPECT_EQ(read32(space, kVendorId), 0x10441af4u);
  EXPECT_EQ(read32(space, kRevisionId), 0x00ff0001u);
  EXPECT_EQ(space.read16(kStatus) & kStatusCapabilitiesList, 0) << "no capabilities yet";
  EXPECT_EQ(read32(space, 0x30), 0u) << "no expansion ROM";
  write32(space, 0x30, 0xffffffff);
  EXPECT_EQ(read32(space, 0x30), 0u);
}

TEST(PciConfigSpace, CommandKeepsOnlyDefinedBits) {
  ConfigSpace space(kIdentity);
  space.write(kCommand, std::array<uint8_t, 2>{0xff, 0xff});
  EXPECT_EQ(space.command(), kCommandIoSpace | kCommandMemorySpace | kCommandBusMaster | (1u << 6) | (1u << 8) |
                                 kCommandIntxDisable);
  EXPECT_EQ(space.read16(kStatus), 0) << "status is not writable";
  space.write(kInterruptLine, std::array<uint8_t, 2>{0x0b, 0x01});
  EXPECT_EQ(space.read16(kInterruptLine), 0x000b) << "line is scratch, pin stays 0 (no INTx)";
}

TEST(PciConfigSpace, SizesAndMovesA32BitBar) {
  ConfigSpace space(kIdentity);
  ASSERT_TRUE(space.add_memory_bar(0, 0x4000, false, false).ok());
  EXPECT_EQ(read32(space, kBar0), 0u);
  write32(space, kBar0, 0xffffffff);
  EXPECT_EQ(read32(space, kBar0), 0xffffc000u) << "size mask, memory, 32-bit, not prefetchable";
  write32(space, kBar0, 0xfebf1234);
  EXPECT_EQ(read32(space, kBar0), 0xfebf0000u);
  EXPECT_EQ(space.bar_address(0), 0xfebf0000u);
  EXPECT_EQ(space.bar_size(0), 0x4000u);
  EXPECT_EQ(space.bar_size(1), 0u);
  write32(space, kBar0 + 4, 0xffffffff);
  EXPECT_EQ(read32(space, kBar0 + 4), 0u) << "unimplemented BAR";
}

TEST(PciConfigSpace, SizesAndMovesA64BitBar) {
  ConfigSpace space(kIdentity);
  ASSERT_TRUE(space.add_memory_bar(2, 0x100000, true, true).ok());
  EXPECT_EQ(read32(space, kBar0 + 8), 0xcu);
  write32(space, kBar0 + 8, 0xffffffff);
  write32(space, kBar0 + 12, 0xffffffff);
  EXPECT_EQ(read32(space, kBar0 + 8), 0xfff0000cu);
  EXPECT_EQ(read32(space, kBar0 + 12), 0xffffffffu);
  write32(space, kBar0 + 8, 0x40000000);
  write32(space, kBar0 + 12, 0x80);
  EXPECT_EQ(space.bar_address(2), 0x8040000000ull);
  EXPECT_FALSE(space.add_memory_bar(3, 0x1000, false, false).ok()) << "upper half of BAR 2";
}

TEST(PciConfigSpace, RejectsBadBars) {
  ConfigSpace space(kIdentity);
  EXPECT_FALSE(space.add_memory_bar(6, 0x1000, false, false).ok());
  EXPECT_FALSE(space.add_memory_bar(5, 0x1000, true, false).ok());
  EXPECT_FALSE(space.add_memory_bar(0, 0x3000, false, false).ok());
  EXPECT_FALSE(space.add_memory_bar(0, 0x800, false, false).ok());
  EXPECT_FALSE(space.add_memory_bar(0, 1ull << 32, false, false).ok());
  ASSERT_TRUE(space.add_memory_bar(0, 0x1000, false, false).ok());
  EXPECT_FALSE(space.add_memory_bar(0, 0x1000, false, false).ok());
}

TEST(PciConfigSpace, CapabilitiesFormAList) {
  ConfigSpace space(kIdentity);
  const std::array<uint8_t, 14> first{1, 2, 3};
  const std::array<uint8_t, 2> second{0, 0};
  const std::array<uint8_t, 2> second_writable{0x00, 0xc0};
  auto a = space.add_capability(0x09, first);
  auto b = space.add_capability(0x11, second, second_writable);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, 0x40);
  EXPECT_EQ(*b, 0x50);
  EXPECT_NE(space.read16(kStatus) & kStatusCapabilitiesList, 0);
  uint8_t pointer = 0;
  space.read(kCapabilitiesPointer, std::span(&pointer, 1));
  EXPECT_EQ(pointer, 0x40);
  EXPECT_EQ(space.read16(0x40), 0x5009) << "id 9, next 0x50";
  EXPECT_EQ(space.read16(0x50), 0x0011) << "id 0x11, end of list";
  space.write(0x52, std::array<uint8_t, 2>{0xff, 0xff});
  EXPECT_EQ(space.read16(0x52), 0xc000) << "only the writable bits";
  space.write(0x50, std::array<uint8_t, 2>{0xff, 0xff});
  EXPECT_EQ(space.read16(0x50), 0x0011) << "id and next are read-only";
  EXPECT_FALSE(space.add_capability(0x11, second, first).ok()) << "mask of the wrong length";
}

TEST(PciConfigSpace, CapabilitiesStopWhenSpaceRunsOut) {
  ConfigSpace space(kIdentity);
  const std::array<uint8_t, 46> body{};
  int added = 0;
  while (space.add_capability(0x09, body).ok()) ++added;
  EXPECT_EQ(added, 4) << "4 x 48 bytes from 0x40 fill the 256-byte header";
}

TEST(PciConfigSpace, ExtendedOffsetsReadZero) {
  ConfigSpace space(kIdentity);
  EXPECT_EQ(read32(space, 0x100), 0u);
  write32(space, 0x100, 0xffffffff);
  EXPECT_EQ(read32(space, 0xffc), 0u);
}

// The layout a virtio function has: a 32-bit and a 64-bit BAR, and a
// capability with driver-writable bits (MSI-X's message control).
ConfigSpace laid_out_space(const DeviceIdentity& identity = kIdentity) {
  ConfigSpace space(identity);
  EXPECT_TRUE(space.add_memory_bar(0, 0x4000, false, false).ok());
  EXPECT_TRUE(space.add_memory_bar(2, 0x100000, true, true).ok());
  const std::array<uint8_t, 2> body{0x01, 0x00};
  const std::array<uint8_t, 2> writable{0x00, 0xc0};
  EXPECT_TRUE(space.add_capability(0x11, body, writable).ok());
  return space;
}

// What a driver does at boot: sizes and places the BARs, turns on decoding
// and bus mastering, sets the interrupt line and a capability's control bits.
void program_like_a_driver(ConfigSpace& space) {
  write32(space, kBar0, 0xffffffff);
  write32(space, kBar0, 0xfebf0000);
  write32(space, kBar0 + 8, 0xffffffff);
  write32(space, kBar0 + 12, 0xffffffff);
  write32(space, kBar0 + 8, 0x40000000);
  write32(space, kBar0 + 12, 0x80);
  space.write(kCommand, std::array<uint8_t, 2>{kCommandMemorySpace | kCommandBusMaster, 0x04});
  space.write(kInterruptLine, std::array<uint8_t, 1>{0x0b});
  space.write(0x42, std::array<uint8_t, 2>{0x00, 0x80});
}

TEST(PciConfigSpaceRestore, BytesOfTheSameDeviceRoundTrip) {
  ConfigSpace original = laid_out_space();
  program_like_a_driver(original);
  const auto saved = original.bytes();

  ConfigSpace restored = laid_out_space();
  ASSERT_NE(restored.bytes(), saved) << "the driver's writes changed something";
  auto result = restored.restore(saved);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(restored.bytes(), saved);
  EXPECT_EQ(restored.bar_address(0), 0xfebf0000u);
  EXPECT_EQ(restored.bar_address(2), 0x8040000000ull);
  EXPECT_EQ(restored.command(), kCommandMemorySpace | kCommandBusMaster | kCommandIntxDisable);
  EXPECT_EQ(restored.read16(0x42), 0x8001) << "the control bit the driver set";
  // The write masks still hold after a restore.
  write32(restored, kVendorId, 0);
  EXPECT_EQ(read32(restored, kVendorId), 0x10441af4u);
}

TEST(PciConfigSpaceRestore, RefusesBytesWhoseReadOnlyBitsDiffer) {
  ConfigSpace original = laid_out_space();
  program_like_a_driver(original);
  const auto saved = original.bytes();

  auto refused = [&](uint16_t offset, uint8_t value) {
    auto bytes = saved;
    bytes[offset] = value;
    ConfigSpace target = laid_out_space();
    const auto before = target.bytes();
    auto result = target.restore(bytes);
    EXPECT_EQ(target.bytes(), before) << "a refused restore changes nothing (offset " << offset << ")";
    return result.ok() ? std::string("(restored)") : result.error().message;
  };
  EXPECT_NE(refused(kVendorId, 0x86).find("byte 0 is not this device's"), std::string::npos);
  EXPECT_NE(refused(kDeviceId, 0x45).find("byte 2 is not this device's"), std::string::npos);
  EXPECT_NE(refused(kClassCode + 2, 0x02).find("byte 11"), std::string::npos) << "another class";
  EXPECT_NE(refused(kBar0, 0x01).find("byte 16"), std::string::npos) << "BAR 0 becoming an I/O BAR";
  EXPECT_NE(refused(kBar0 + 1, 0x10).find("byte 17"), std::string::npos) << "an address inside BAR 0's size";
  EXPECT_NE(refused(kCapabilitiesPointer, 0x50).find("byte 52"), std::string::npos);
  EXPECT_NE(refused(0x40, 0x09).find("byte 64"), std::string::npos) << "another capability ID";
  EXPECT_NE(refused(0x42, 0x03).find("byte 66"), std::string::npos) << "the capability's read-only bits";
}

TEST(PciConfigSpaceRestore, RefusesAnotherDevicesBytes) {
  ConfigSpace net = laid_out_space(DeviceIdentity{0x1af4, 0x1041, 0x020000, 1, 0x1af4, 0x0001});
  program_like_a_driver(net);
  ConfigSpace entropy = laid_out_space();
  auto result = entropy.restore(net.bytes());
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("not this device's"), std::string::npos) << result.error().message;

  ConfigSpace fewer_bars(kIdentity);  // same identity, no BARs or capability
  EXPECT_FALSE(fewer_bars.restore(entropy.bytes()).ok()) << "another layout";
}

TEST(PciConfigSpaceRestore, RefusesTheWrongSize) {
  ConfigSpace space = laid_out_space();
  const auto before = space.bytes();
  std::vector<uint8_t> bytes(before.begin(), before.end());
  bytes.pop_back();
  auto short_by_one = space.restore(bytes);
  ASSERT_FALSE(short_by_one.ok());
  EXPECT_NE(short_by_one.error().message.find("255 bytes (want 256)"), std::string::npos)
      << short_by_one.error().message;
  bytes.push_back(before.back());
  bytes.push_back(0);
  EXPECT_NE(space.restore(bytes).error().message.find("257 bytes"), std::string::npos);
  EXPECT_FALSE(space.restore({}).ok());
  EXPECT_EQ(space.bytes(), before);
}

}  // namespace
}  // namespace vmhive::pci
