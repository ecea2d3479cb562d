#include "daemon/state_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "daemon/clone_pool.h"
#include "daemon/event_log.h"
#include "daemon/vm_record.h"

namespace vmhive::daemon {
namespace {

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "vmhive-state-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern + "/state";
  }
  void TearDown() override { std::filesystem::remove_all(std::filesystem::path(root_).parent_path()); }

  static VmRecord record_named(const std::string& name) {
    VmRecord record;
    record.name = name;
    record.spec.name = name;
    record.spec.kernel = "/images/vmlinux";
    record.spec.labels = {{"role", "web"}};
    record.spec.cpu.weight = 300;
    record.created_ms = 1733131200123;
    return record;
  }

  std::string root_;
};

TEST(VmRecord, ReadsBackWhatItWrote) {
  VmRecord record;
  record.name = "web-1";
  record.spec.name = "web-1";
  record.spec.kernel = "/images/vmlinux";
  record.spec.cpus = 2;
  record.phase = VmPhase::kExited;
  record.pid = 0;
  record.starts = 3;
  record.exit = VmExit{1, std::nullopt, "failed", "vmhive: cannot open /dev/kvm", 42};
  auto back = record_from_json(nlohmann::json::parse(record_to_json(record).dump()));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(record_to_json(*back), record_to_json(record));
  EXPECT_EQ(back->exit->status, 1);
  EXPECT_EQ(back->exit->reason, "failed");
}

TEST(VmRecord, RefusesBadRecords) {
  EXPECT_FALSE(record_from_json(nlohmann::json::array()).ok());
  EXPECT_FALSE(record_from_json(nlohmann::json{{"name", "a"}}).ok());
  VmRecord record;
  record.name = "ok";
  record.spec.name = "ok";
  nlohmann::json document = nlohmann::json::parse(record_to_json(record).dump());
  document["name"] = "../etc";
  EXPECT_FALSE(record_from_json(document).ok());
  document["name"] = "ok";
  document["phase"] = "flying";
  EXPECT_FALSE(record_from_json(document).ok());
  document["phase"] = "created";
  document["pid"] = "twelve";
  EXPECT_FALSE(record_from_json(document).ok());
}

TEST_F(StateStoreTest, KeepsRecordsPrivateAndFindsThemAgain) {
  auto store = StateStore::open(root_);
  ASSERT_TRUE(store.ok()) << store.error().message;
  ASSERT_TRUE(store->create(record_named("web-1")).ok());
  ASSERT_TRUE(store->create(record_named("web-2")).ok());
  struct stat info {};
  ASSERT_EQ(::stat(root_.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat(store->vm_dir("web-1").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat(store->vm_file("web-1", "vm.json").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(store->vm_file("web-1", "config.json").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);

  store = make_error("closed");  // as a daemon that ended: its lock goes with it
  auto reopened = StateStore::open(root_);
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  std::vector<std::string> warnings;
  auto records = reopened->load_all(&warnings);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_TRUE(warnings.empty());
  for (const VmRecord& record : records) {
    EXPECT_EQ(record.spec.cpu.weight, 300u);
    EXPECT_EQ(record.spec.labels.at("role"), "web");
  }
}

TEST_F(StateStoreTest, ADuplicateNameIsRefusedAndNothingIsOverwritten) {
  auto store = StateStore::open(root_);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE(store->create(record_named("web-1")).ok());
  VmRecord other = record_named("web-1");
  other.spec.kernel = "/other";
  auto again = store->create(other);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("exists already"), std::string::npos);
  auto records = store->load_all(nullptr);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].spec.kernel, "/images/vmlinux");
}

TEST_F(StateStoreTest, AnUnreadableRecordIsSkippedWithAWarning) {
  auto store = StateStore::open(root_);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE(store->create(record_named("good")).ok());
  ASSERT_TRUE(store->create(record_named("bad")).ok());
  std::ofstream(store->vm_file("bad", "vm.json"), std::ios::trunc) << "{not json";
  ASSERT_EQ(::mkdir((root_ + "/vms/.hidden").c_str(), 0700), 0);  // not a VM name
  std::filesystem::create_directory_symlink("/etc", root_ + "/vms/linked");
  std::vector<std::string> warnings;
  auto records = store->load_all(&warnings);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].name, "good");
  EXPECT_EQ(warnings.size(), 3u);
}

TEST_F(StateStoreTest, RemoveTakesTheDirectoryAndRefusesStrangers) {
  auto store = StateStore::open(root_);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE(store->create(record_named("web-1")).ok());
  std::ofstream(store->vm_file("web-1", "console.log")) << "hello\n";
  ASSERT_TRUE(store->remove("web-1").ok());
  EXPECT_FALSE(std::filesystem::exists(store->vm_dir("web-1")));
  ASSERT_TRUE(store->create(record_named("web-2")).ok());
  std::ofstream(store->vm_dir("web-2") + "/planted") << "x";
  auto removed = store->remove("web-2");
  EXPECT_FALSE(removed.ok());  // something else is in it: not deleted blindly
  EXPECT_TRUE(std::filesystem::exists(store->vm_dir("web-2") + "/planted"));
  EXPECT_FALSE(store->remove("../state").ok());
}

TEST_F(StateStoreTest, AHeldDirectoryMovesToItsVmAndNeverOverAnother) {
  auto store = StateStore::open(root_);
  ASSERT_TRUE(store.ok());
  struct stat info {};
  ASSERT_EQ(::stat((root_ + "/held").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700u);
  ASSERT_TRUE(store->make_held_dir("web.0").ok());
  std::ofstream(store->held_file("web.0", "console.log")) << "booted\n";
  EXPECT_FALSE(store->make_held_dir("web.0").ok());
  EXPECT_FALSE(store->make_held_dir("../vms").ok());
  PoolSpec long_name{std::string(41, 'p'), "/s", {}, 1};
  EXPECT_FALSE(pool_spec_from_json(pool_spec_to_json(long_name)).ok()) << "no room for .<n>";
  ASSERT_TRUE(store->adopt_held_dir("web.0", record_named("web-1")).ok());
  EXPECT_TRUE(std::filesystem::exists(store->vm_file("web-1", "console.log")));
  EXPECT_TRUE(std::filesystem::exists(store->vm_file("web-1", "vm.json")));
  EXPECT_FALSE(std::filesystem::exists(store->held_dir("web.0")));
  // A VM of that name exists already: the held directory stays where it is.
  ASSERT_TRUE(store->make_held_dir("web.1").ok());
  EXPECT_FALSE(store->adopt_held_dir("web.1", record_named("web-1")).ok());
  EXPECT_TRUE(std::filesystem::exists(store->held_dir("web.1")));
  ASSERT_TRUE(store->remove_held_dir("web.1").ok());
  // What an earlier daemon left is swept; anything else in a held directory is not deleted blindly.
  ASSERT_TRUE(store->make_held_dir("web.2").ok());
  std::ofstream(store->held_file("web.2", "vmm.log")) << "x";
  ASSERT_TRUE(store->make_held_dir("web.3").ok());
  std::ofstream(store->held_dir("web.3") + "/planted") << "x";
  store->sweep_held_dirs();
  EXPECT_FALSE(std::filesystem::exists(store->held_dir("web.2")));
  EXPECT_TRUE(std::filesystem::exists(store->held_dir("web.3") + "/planted"));
}

TEST_F(StateStoreTest, OneDaemonPerStateDirectory) {
  {
    auto first = StateStore::open(root_);
    ASSERT_TRUE(first.ok());
    auto second = StateStore::open(root_);
    ASSERT_FALSE(second.ok());
    EXPECT_NE(second.error().message.find("another vmhived uses it"), std::string::npos) << second.error().message;
  }
  EXPECT_TRUE(StateStore::open(root_).ok()) << "the lock goes with the store";
}

TEST_F(StateStoreTest, PoolsAreKeptAndABrokenFileIsAnError) {
  auto store = StateStore::open(root_);
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE(store->load_pools()->is_null()) << "none yet";
  PoolSpec spec{"web", "/snaps/web", {"/images/base.img"}, 4};
  ASSERT_TRUE(store->save_pools(nlohmann::ordered_json::array({pool_spec_to_json(spec)})).ok());
  struct stat info {};
  ASSERT_EQ(::stat((root_ + "/pools.json").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  auto loaded = store->load_pools();
  ASSERT_TRUE(loaded.ok() && loaded->is_array() && loaded->size() == 1u);
  auto read = pool_spec_from_json((*loaded)[0]);
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(*read, spec);
  std::ofstream(root_ + "/pools.json") << "{not json";
  EXPECT_FALSE(store->load_pools().ok());
}

TEST(PoolSpec, RefusesWhatIsNotAPool) {
  for (const char* bad : {R"([])", R"({"name": "web"})", R"({"name": "web", "snapshot": "relative"})",
                          R"({"name": "web", "snapshot": "/s", "size": 0})", R"({"name": "web", "snapshot": "/s", "size": 257})",
                          R"({"name": "web", "snapshot": "/s", "size": -1})", R"({"name": "web", "snapshot": "/s", "size": "2"})",
                          R"({"name": "../x", "snapshot": "/s"})", R"({"snapshot": "/s"})",
                          R"({"name": "web", "snapshot": "/s", "disks": ["rel"]})",
                          R"({"name": "web", "snapshot": "/s", "disks": "/a"})",
                          R"({"name": "web", "snapshot": "/s", "taps": []})"}) {
    auto spec = pool_spec_from_json(nlohmann::json::parse(bad));
    ASSERT_FALSE(spec.ok()) << bad;
    EXPECT_EQ(spec.error().kind, ErrorKind::kInvalid) << bad;
  }
  auto spec = pool_spec_from_json(nlohmann::json::parse(R"({"name": "web", "snapshot": "/s"})"));
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->size, 1u) << "one held VM unless told";
}

TEST_F(StateStoreTest, ALinkInPlaceOfTheStateDirectoryIsRefused) {
  const std::string target = std::filesystem::path(root_).parent_path().string() + "/elsewhere";
  std::filesystem::create_directory(target);
  std::filesystem::create_directory_symlink(target, root_);
  EXPECT_FALSE(StateStore::open(root_).ok());
}

TEST_F(StateStoreTest, EventsAreAppendedAsJsonLinesAndRotated) {
  auto store = StateStore::open(root_);
  ASSERT_TRUE(store.ok());
  auto events = EventLog::open(store->root_fd(), 400);
  ASSERT_TRUE(events.ok()) << events.error().message;
  std::vector<std::string> seen;
  events->set_subscriber([&](const std::string& line) { seen.push_back(line); });
  for (int i = 0; i < 10; ++i) events->record("web-1", "started", {{"pid", 100 + i}});
  ASSERT_EQ(seen.size(), 10u);
  const auto first = nlohmann::json::parse(seen[0]);
  EXPECT_EQ(first["vm"], "web-1");
  EXPECT_EQ(first["type"], "started");
  EXPECT_EQ(first["pid"], 100);
  EXPECT_TRUE(first.contains("time_ms"));
  struct stat info {};
  ASSERT_EQ(::stat((root_ + "/events.jsonl").c_str(), &info), 0);
  EXPECT_LE(info.st_size, 400);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  EXPECT_TRUE(std::filesystem::exists(root_ + "/events.jsonl.1"));
}

}  // namespace
}  // namespace vmhive::daemon
