// Each virtio device's own persisted state, through its kind: a block device
// freezes its disk into the snapshot and comes back over an overlay on that
// copy; a read-only image is kept by path and must not change; the entropy
// device keeps nothing; unknown kinds and bad states are refused.
#include "devices/virtio/device_kinds.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "common/atomic_file.h"
#include "common/state_codec.h"
#include "devices/virtio/block/block_persist.h"
#include "devices/virtio/net/net_persist.h"
#include "devices/virtio/rng/entropy_device.h"
#include "file_contents.h"
#include "temp_dir.h"

namespace vmhive::virtio {
namespace {

using vmhive::testing::file_contents;
using vmhive::testing::TempDir;

constexpr uint64_t kDiskBytes = 64 * 1024;

std::vector<uint8_t> read_disk(DiskImage& image) {
  std::vector<uint8_t> bytes(image.size());
  EXPECT_TRUE(image.read(0, bytes).ok());
  return bytes;
}

class DevicePersistenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    image_ = temp_.file("disk.img");
    std::string bytes(kDiskBytes, '\0');
    for (size_t i = 0; i < bytes.size(); i += 512) bytes[i] = static_cast<char>(i / 512 + 1);
    std::ofstream(image_, std::ios::binary) << bytes;
    snapshot_ = temp_.file("snapshot");
    ASSERT_EQ(::mkdir(snapshot_.c_str(), 0700), 0);
    auto dir = open_directory(snapshot_);
    ASSERT_TRUE(dir.ok());
    snapshot_fd_ = std::move(*dir);
  }

  std::unique_ptr<BlockDevice> block(const DiskSpec& spec) {
    auto image = open_disk(spec);
    EXPECT_TRUE(image.ok()) << image.error().message;
    return std::make_unique<BlockDevice>(std::move(*image), spec);
  }
  DeviceSaveContext save_context(const std::string& file) { return {snapshot_fd_.get(), snapshot_, file}; }
  DeviceRestoreContext restore_context() {
    DeviceRestoreContext context;
    context.snapshot_fd = snapshot_fd_.get();
    context.snapshot_path = snapshot_;
    context.overlay_place = [this](unsigned disk) -> Result<OverlayPlace> {
      return OverlayPlace{temp_.file("restored-" + std::to_string(disk) + ".overlay"), true};
    };
    return context;
  }
  Result<std::unique_ptr<VirtioDevice>> restore(DeviceType type, const std::vector<uint8_t>& state,
                                                 DeviceRestoreContext& context) {
    const DeviceKind* kind = find_device_kind(static_cast<uint16_t>(type));
    EXPECT_NE(kind, nullptr);
    return kind->restore(state, context);
  }

  TempDir temp_;
  std::string image_;
  std::string snapshot_;
  UniqueFd snapshot_fd_;
};

TEST_F(DevicePersistenceTest, EveryDeviceTypeHasAKind) {
  for (DeviceType type : {DeviceType::kBlock, DeviceType::kNet, DeviceType::kEntropy}) {
    const DeviceKind* kind = find_device_kind(static_cast<uint16_t>(type));
    ASSERT_NE(kind, nullptr) << type_name(type);
    EXPECT_EQ(kind->type, type);
    EXPECT_EQ(kind->takes_net_link, type == DeviceType::kNet);
  }
  EXPECT_EQ(find_device_kind(3), nullptr) << "virtio-console is not something vmhive has";
  EXPECT_EQ(find_device_kind(0), nullptr);
}

TEST_F(DevicePersistenceTest, AWritableDiskIsFrozenIntoTheSnapshotAndRestoredOverACopy) {
  auto device = block(DiskSpec{image_, false, {}});
  ASSERT_TRUE(device->image().write(512, std::vector<uint8_t>(512, 0xee)).ok());
  const std::vector<uint8_t> content = read_disk(device->image());
  auto saved = device->save(save_context("disk-4"));
  ASSERT_TRUE(saved.ok()) << saved.error().message;
  auto state = decode_state<BlockState>(*saved, "block");
  ASSERT_TRUE(state.ok()) << state.error().message;
  EXPECT_EQ(state->image, "disk-4");
  EXPECT_FALSE(state->shared);
  EXPECT_EQ(state->size, kDiskBytes);
  EXPECT_EQ(state->serial, device->serial());
  EXPECT_EQ(file_contents(snapshot_ + "/disk-4"), std::string(content.begin(), content.end()));

  auto context = restore_context();
  auto restored = restore(DeviceType::kBlock, *saved, context);
  ASSERT_TRUE(restored.ok()) << restored.error().message;
  auto& disk = static_cast<BlockDevice&>(**restored);
  EXPECT_EQ(disk.serial(), device->serial()) << "the guest keeps seeing the same ID";
  EXPECT_EQ(read_disk(disk.image()), content);
  ASSERT_TRUE(disk.image().write(0, std::vector<uint8_t>(512, 0x11)).ok());
  ASSERT_TRUE(disk.image().flush().ok());
  EXPECT_EQ(file_contents(snapshot_ + "/disk-4"), std::string(content.begin(), content.end()))
      << "the snapshot's copy is a read-only base";
  EXPECT_TRUE(std::filesystem::exists(temp_.file("restored-0.overlay")));
  EXPECT_EQ(context.disks_restored, 1u);

  // A second restore of the same snapshot with the same overlay place is refused.
  auto again_context = restore_context();
  auto again = restore(DeviceType::kBlock, *saved, again_context);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("already exists"), std::string::npos) << again.error().message;
}

TEST_F(DevicePersistenceTest, AReadOnlyImageIsUsedOnlyWhereTheOperatorNamesIt) {
  auto device = block(DiskSpec{image_, true, {}});
  auto saved = device->save(save_context("disk-0"));
  ASSERT_TRUE(saved.ok()) << saved.error().message;
  auto state = decode_state<BlockState>(*saved, "block");
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->shared);
  EXPECT_EQ(state->image, std::filesystem::canonical(image_).string());
  struct stat info {};
  ASSERT_EQ(::stat(image_.c_str(), &info), 0);
  EXPECT_EQ(state->inode, info.st_ino);
  EXPECT_EQ(state->device, info.st_dev);
  EXPECT_FALSE(std::filesystem::exists(snapshot_ + "/disk-0")) << "nothing is copied";

  // The state's path alone opens nothing: the operator must name the image.
  auto unnamed = restore_context();
  auto refused = restore(DeviceType::kBlock, *saved, unnamed);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("give it with --disk"), std::string::npos) << refused.error().message;

  auto named = restore_context();
  named.shared_disks = {image_};
  auto restored = restore(DeviceType::kBlock, *saved, named);
  ASSERT_TRUE(restored.ok()) << restored.error().message;
  EXPECT_TRUE(static_cast<BlockDevice&>(**restored).image().read_only());

  // Another file with the same size and time is still another file.
  const std::string other = temp_.file("other.img");
  std::filesystem::copy_file(image_, other);
  struct timespec times[2] = {info.st_atim, info.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, other.c_str(), times, 0), 0);
  auto wrong = restore_context();
  wrong.shared_disks = {other};
  auto impostor = restore(DeviceType::kBlock, *saved, wrong);
  ASSERT_FALSE(impostor.ok());
  EXPECT_NE(impostor.error().message.find("is not the image the snapshot used"), std::string::npos)
      << impostor.error().message;

  std::ofstream(image_, std::ios::binary | std::ios::app) << std::string(512, 'x');
  auto after_change = restore_context();
  after_change.shared_disks = {image_};
  auto changed = restore(DeviceType::kBlock, *saved, after_change);
  ASSERT_FALSE(changed.ok());
  EXPECT_NE(changed.error().message.find("has changed since the snapshot"), std::string::npos);
}

TEST_F(DevicePersistenceTest, ADiskCopyThatIsALinkIsRefused) {
  auto device = block(DiskSpec{image_, false, {}});
  auto saved = device->save(save_context("disk-0"));
  ASSERT_TRUE(saved.ok());
  ASSERT_EQ(::unlink((snapshot_ + "/disk-0").c_str()), 0);
  ASSERT_EQ(::symlink(image_.c_str(), (snapshot_ + "/disk-0").c_str()), 0);
  auto context = restore_context();
  auto restored = restore(DeviceType::kBlock, *saved, context);
  ASSERT_FALSE(restored.ok());
  EXPECT_NE(restored.error().message.find("snapshot disk"), std::string::npos) << restored.error().message;

  // A hard link passes a regular-file check; it has two names.
  ASSERT_EQ(::unlink((snapshot_ + "/disk-0").c_str()), 0);
  ASSERT_EQ(::link(image_.c_str(), (snapshot_ + "/disk-0").c_str()), 0);
  auto linked = restore(DeviceType::kBlock, *saved, context);
  ASSERT_FALSE(linked.ok());
  EXPECT_NE(linked.error().message.find("not a regular file with one name"), std::string::npos)
      << linked.error().message;
}

TEST_F(DevicePersistenceTest, StatesAreCheckedBeforeAnythingIsBuilt) {
  const DeviceKind* block_kind = find_device_kind(static_cast<uint16_t>(DeviceType::kBlock));
  auto check = [&](std::string image, bool shared, uint64_t size = 4096, std::string serial = "id") {
    BlockState state{.image = std::move(image), .shared = shared, .size = size, .serial = std::move(serial)};
    auto checked = block_kind->check_state(encode_state(state));
    return checked.ok() ? std::string("(ok)") : checked.error().message;
  };
  EXPECT_EQ(check("disk-0", false), "(ok)");
  EXPECT_EQ(check("/images/base.img", true), "(ok)");
  EXPECT_NE(check("../etc/passwd", false).find("neither"), std::string::npos);
  EXPECT_NE(check("..", false).find("neither"), std::string::npos);
  EXPECT_NE(check("/etc/shadow", false).find("neither"), std::string::npos);
  EXPECT_NE(check("disk-0", false, 1000).find("size of 1000"), std::string::npos);
  EXPECT_NE(check("disk-0", false, 4096, std::string(21, 's')).find("at most 20"), std::string::npos);
  EXPECT_FALSE(block_kind->check_state(std::vector<uint8_t>{1, 2, 3}).ok()) << "truncated";

  const DeviceKind* net_kind = find_device_kind(static_cast<uint16_t>(DeviceType::kNet));
  EXPECT_TRUE(net_kind->check_state(encode_state(NetState{{0x52, 0x54, 0, 1, 2, 3}})).ok());
  EXPECT_FALSE(net_kind->check_state(std::vector<uint8_t>(5)).ok());
  EXPECT_FALSE(net_kind->check_state(std::vector<uint8_t>(7)).ok());
}

TEST_F(DevicePersistenceTest, ANetDeviceNeedsALinkAndTheEntropyDeviceNothing) {
  auto context = restore_context();
  auto net = restore(DeviceType::kNet, encode_state(NetState{{0x52, 0x54, 0, 1, 2, 3}}), context);
  ASSERT_FALSE(net.ok());
  EXPECT_NE(net.error().message.find("no tap or socket left"), std::string::npos) << net.error().message;

  // A socket link: the device comes back on it with the snapshot's MAC.
  int ends[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends), 0);
  UniqueFd peer(ends[1]);
  context.net_links.push_back(NetLinkSpec{"", ends[0]});
  auto on_socket = restore(DeviceType::kNet, encode_state(NetState{{0x52, 0x54, 0, 1, 2, 3}}), context);
  ASSERT_TRUE(on_socket.ok()) << on_socket.error().message;
  EXPECT_EQ(static_cast<NetDevice&>(**on_socket).mac()[5], 3);

  EntropyDevice entropy;
  auto saved = entropy.save(save_context("disk-0"));
  ASSERT_TRUE(saved.ok());
  EXPECT_TRUE(saved->empty());
  auto restored = restore(DeviceType::kEntropy, *saved, context);
  ASSERT_TRUE(restored.ok()) << restored.error().message;
  EXPECT_EQ((*restored)->type(), DeviceType::kEntropy);
  EXPECT_TRUE(std::filesystem::is_empty(snapshot_)) << "the entropy device keeps no file";
}

}  // namespace
}  // namespace vmhive::virtio
