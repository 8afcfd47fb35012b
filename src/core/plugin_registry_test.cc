#include "core/plugin_registry.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace sg::core {
namespace {

class StubPlugin final : public Plugin {
 public:
  explicit StubPlugin(PluginInfo info) : info_(std::move(info)) {}
  const PluginInfo& Info() const override { return info_; }
  Result<> Init(PluginContext&) override { return {}; }
  Result<> Start() override { return {}; }
  void Stop(Deadline) noexcept override {}
  Health CheckHealth() const override { return {}; }

 private:
  PluginInfo info_;
};

PluginFactory Factory(std::string name, std::string version = "1.0.0", int* calls = nullptr) {
  return [name, version, calls] {
    if (calls != nullptr) {
      ++*calls;
    }
    PluginInfo info;
    info.name = name;
    info.version = version;
    return std::make_unique<StubPlugin>(info);
  };
}

TEST(PluginRegistryTest, RegisteredPluginsAreListedByName) {
  PluginRegistry registry;

  ASSERT_TRUE(registry.Register(Factory("upload")));
  ASSERT_TRUE(registry.Register(Factory("auth")));

  std::vector<PluginInfo> infos = registry.List();
  ASSERT_EQ(infos.size(), 2u);
  EXPECT_EQ(infos[0].name, "auth");
  EXPECT_EQ(infos[1].name, "upload");
  EXPECT_TRUE(registry.Contains("auth"));
  EXPECT_FALSE(registry.Contains("streaming"));
}

TEST(PluginRegistryTest, RegisterCallsTheFactoryOnceToReadInfo) {
  PluginRegistry registry;
  int calls = 0;

  ASSERT_TRUE(registry.Register(Factory("upload", "1.0.0", &calls)));

  EXPECT_EQ(calls, 1);
}

TEST(PluginRegistryTest, DuplicateNameFailsNamingThePlugin) {
  PluginRegistry registry;
  ASSERT_TRUE(registry.Register(Factory("upload")));

  auto result = registry.Register(Factory("upload", "2.0.0"));

  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kAlreadyExists);
  EXPECT_NE(result.error().message.find("upload"), std::string::npos);
}

TEST(PluginRegistryTest, MalformedNamesAreRejected) {
  for (const char* name : {"", "Upload", "1upload", "up-load", "up load", "_upload", "upload!"}) {
    PluginRegistry registry;

    auto result = registry.Register(Factory(name));

    ASSERT_FALSE(result) << name;
    EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument) << name;
  }
}

TEST(PluginRegistryTest, WellFormedNamesAreAccepted) {
  PluginRegistry registry;
  for (const char* name : {"a", "upload", "object_store", "s3_v2"}) {
    EXPECT_TRUE(registry.Register(Factory(name))) << name;
  }
}

TEST(PluginRegistryTest, KernelSectionNamesAreReserved) {
  PluginRegistry registry;

  auto result = registry.Register(Factory("log"));

  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("reserved"), std::string::npos);
}

TEST(PluginRegistryTest, EmptyVersionIsRejected) {
  PluginRegistry registry;

  auto result = registry.Register(Factory("upload", ""));

  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
}

TEST(PluginRegistryTest, FactoryThatFailsIsRejected) {
  PluginRegistry registry;

  EXPECT_FALSE(registry.Register(nullptr));
  EXPECT_FALSE(registry.Register([]() -> std::unique_ptr<Plugin> { return nullptr; }));
  EXPECT_FALSE(
      registry.Register([]() -> std::unique_ptr<Plugin> { throw std::runtime_error("boom"); }));
  EXPECT_TRUE(registry.List().empty());
}

TEST(PluginRegistryTest, CreateMakesAFreshInstance) {
  PluginRegistry registry;
  ASSERT_TRUE(registry.Register(Factory("upload")));

  auto first = registry.Create("upload");
  auto second = registry.Create("upload");

  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  EXPECT_EQ((*first)->Info().name, "upload");
  EXPECT_NE(first->get(), second->get());
}

TEST(PluginRegistryTest, CreateUnknownNamesThePluginAndTheKnownOnes) {
  PluginRegistry registry;
  ASSERT_TRUE(registry.Register(Factory("upload")));
  ASSERT_TRUE(registry.Register(Factory("auth")));

  auto result = registry.Create("uplaod");

  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(result.error().message, "unknown plugin uplaod (known: auth, upload)");
}

}  // namespace
}  // namespace sg::core
