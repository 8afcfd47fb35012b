#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "core/api/services/object_store.h"
#include "core/testing/fake_clock.h"
#include "core/testing/test_context.h"
#include "plugins/storage/storage_config.h"
#include "plugins/storage/storage_plugin_internal.h"
#include "plugins/storage/storage_test_util.h"

namespace sg::plugins::storage {
namespace {

namespace fs = std::filesystem;
using testing::ReadAll;
using testing::StringSource;
using testing::TempDir;

class StoragePluginTest : public ::testing::Test {
 protected:
  void Init(StorageConfig config) {
    context_ = std::make_unique<sg::testing::TestPluginContext>(
        sg::testing::TestPluginContext::MakeConfig(config), clock_);
    context_->mutable_server().data_dir = temp_.path() / "data";
    plugin_ = MakeStoragePlugin();
    auto init = plugin_->Init(*context_);
    ASSERT_TRUE(init) << init.error().ToString();
  }

  void TearDown() override {
    if (plugin_) {
      plugin_->Stop(SteadyTime::max());
    }
  }

  TempDir temp_;
  std::shared_ptr<sg::testing::FakeClock> clock_ = std::make_shared<sg::testing::FakeClock>();
  std::unique_ptr<sg::testing::TestPluginContext> context_;
  std::unique_ptr<Plugin> plugin_;
};

TEST_F(StoragePluginTest, InfoNamesThePlugin) {
  auto plugin = MakeStoragePlugin();

  EXPECT_EQ(plugin->Info().name, "storage");
  EXPECT_EQ(plugin->Info().version, "0.1.0");
  EXPECT_TRUE(plugin->Info().dependencies.empty());
  EXPECT_TRUE(plugin->Info().enabled_by_default);
  EXPECT_NE(plugin->NewConfig(), nullptr);
}

TEST_F(StoragePluginTest, DefaultsAreSafe) {
  StorageConfig config;

  EXPECT_EQ(config.root, "");
  EXPECT_TRUE(config.fsync);
  EXPECT_EQ(config.io_buffer.bytes, 256u * 1024);
}

TEST_F(StoragePluginTest, ProvidesAnObjectStoreBelowTheDataDirByDefault) {
  Init({.fsync = false});

  auto store = context_->Require<ObjectStore>();
  ASSERT_TRUE(store);
  StringSource source("hello");
  ASSERT_TRUE((*store)->Put("greetings/en", source));

  EXPECT_TRUE(fs::exists(temp_.path() / "data" / "objects" / "greetings" / "en"));
  EXPECT_EQ((*store)->LocalPath("greetings/en"),
            temp_.path() / "data" / "objects" / "greetings" / "en");
  auto reader = (*store)->Get("greetings/en");
  ASSERT_TRUE(reader);
  EXPECT_EQ(*ReadAll(**reader), "hello");
}

TEST_F(StoragePluginTest, AbsoluteRootIsUsedAsIs) {
  fs::path root = temp_.path() / "elsewhere" / "objs";
  Init({.root = root.string(), .fsync = false});

  auto store = context_->Require<ObjectStore>();
  ASSERT_TRUE(store);
  StringSource source("x");
  ASSERT_TRUE((*store)->Put("k", source));

  EXPECT_TRUE(fs::exists(root / "k"));
}

TEST_F(StoragePluginTest, RelativeRootIsBelowTheDataDir) {
  Init({.root = "blobs", .fsync = false});

  auto store = context_->Require<ObjectStore>();
  ASSERT_TRUE(store);
  StringSource source("x");
  ASSERT_TRUE((*store)->Put("k", source));

  EXPECT_TRUE(fs::exists(temp_.path() / "data" / "blobs" / "k"));
}

TEST_F(StoragePluginTest, InitFailsWhenTheRootCannotBeCreated) {
  std::ofstream(temp_.path() / "file") << "not a folder";
  context_ = std::make_unique<sg::testing::TestPluginContext>(
      sg::testing::TestPluginContext::MakeConfig(
          StorageConfig{.root = (temp_.path() / "file" / "objects").string()}),
      clock_);
  auto plugin = MakeStoragePlugin();

  auto init = plugin->Init(*context_);

  ASSERT_FALSE(init);
  EXPECT_FALSE(init.error().message.empty());
}

TEST_F(StoragePluginTest, StartRemovesStaleTemporaryFiles) {
  Init({.fsync = false});
  fs::path tmp = temp_.path() / "data" / "objects" / ".tmp";
  std::ofstream(tmp / "crashed") << "partial";
  std::ofstream(tmp / "in-flight") << "partial";
  auto set_age = [&](const char* name, std::chrono::seconds age) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
        (clock_->WallNow() - age).time_since_epoch());
    struct timespec times[2];
    times[0].tv_sec = times[1].tv_sec = static_cast<time_t>(ns.count() / 1'000'000'000);
    times[0].tv_nsec = times[1].tv_nsec = static_cast<long>(ns.count() % 1'000'000'000);
    ASSERT_EQ(::utimensat(AT_FDCWD, (tmp / name).c_str(), times, 0), 0);
  };
  set_age("crashed", std::chrono::hours(5));
  set_age("in-flight", std::chrono::seconds(30));

  ASSERT_TRUE(plugin_->Start());

  EXPECT_FALSE(fs::exists(tmp / "crashed"));
  EXPECT_TRUE(fs::exists(tmp / "in-flight"));
}

TEST_F(StoragePluginTest, HealthReportsFreeSpace) {
  Init({.fsync = false});
  ASSERT_TRUE(plugin_->Start());

  auto health = plugin_->CheckHealth();

  // ok or degraded depending on this machine's disk, but never down and always with figures.
  EXPECT_NE(health.status, HealthStatus::kDown) << health.detail;
  EXPECT_NE(health.detail.find("free of"), std::string::npos) << health.detail;
}

TEST_F(StoragePluginTest, HealthIsDownWhenTheRootIsGone) {
  Init({.fsync = false});
  ASSERT_TRUE(plugin_->Start());
  fs::remove_all(temp_.path() / "data" / "objects");

  auto health = plugin_->CheckHealth();

  EXPECT_EQ(health.status, HealthStatus::kDown);
  EXPECT_NE(health.detail.find("not writable"), std::string::npos) << health.detail;
}

}  // namespace
}  // namespace sg::plugins::storage
