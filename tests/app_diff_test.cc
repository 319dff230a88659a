// The difference between two app lists, as SIGHUP applies it.
#include "config/app_diff.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

namespace isolated {
namespace {

AppConfig app(const std::string& name) {
  AppConfig a;
  a.name = name;
  a.scriptPath = "/srv/" + name + "/index.js";
  a.routes = {name + ".example.com/*", "example.com/" + name + "/*"};
  a.bindings.vars = {{"GREETING", "hi"}};
  a.crons = {"*/5 * * * *", "0 0 * * *"};
  return a;
}

using Names = std::vector<std::string>;

TEST(AppDiffTest, IdenticalListsChangeNothing) {
  std::vector<AppConfig> apps{app("a"), app("b")};
  auto diff = diffApps(apps, apps);
  EXPECT_TRUE(diff.empty());
  EXPECT_EQ(diff.unchanged, (Names{"a", "b"}));
}

TEST(AppDiffTest, AddedRemovedChangedUnchanged) {
  std::vector<AppConfig> before{app("keep"), app("drop"), app("edit")};
  std::vector<AppConfig> after{app("new"), app("edit"), app("keep")};
  after[1].cpuLimitMs = 20;
  auto diff = diffApps(before, after);
  EXPECT_EQ(diff.added, Names{"new"});
  EXPECT_EQ(diff.removed, Names{"drop"});
  EXPECT_EQ(diff.changed, Names{"edit"});
  EXPECT_EQ(diff.unchanged, Names{"keep"});
  EXPECT_FALSE(diff.empty());
}

TEST(AppDiffTest, ListsAreSorted) {
  auto diff = diffApps({}, {app("c"), app("a"), app("b")});
  EXPECT_EQ(diff.added, (Names{"a", "b", "c"}));
  auto gone = diffApps({app("z"), app("y")}, {});
  EXPECT_EQ(gone.removed, (Names{"y", "z"}));
}

TEST(AppDiffTest, EveryFieldThatAffectsTheAppCounts) {
  const AppConfig base = app("a");
  std::vector<std::function<void(AppConfig&)>> edits = {
      [](AppConfig& a) { a.scriptPath = "/srv/other.js"; },
      [](AppConfig& a) { a.routes.push_back("x.com/*"); },
      [](AppConfig& a) { a.routes.pop_back(); },
      [](AppConfig& a) { a.bindings.vars[0].second = "hello"; },
      [](AppConfig& a) {
        a.bindings.jsonVars.push_back({"N", "1"});
      },
      [](AppConfig& a) {
        a.bindings.secrets.push_back({"KEY", "s"});
      },
      [](AppConfig& a) { a.bindings.varsFile = "/srv/vars.json"; },
      [](AppConfig& a) { a.bindings.secretsFile = "/srv/secrets.json"; },
      [](AppConfig& a) { a.crons.push_back("@hourly"); },
      [](AppConfig& a) { a.cpuLimitMs = 10; },
      [](AppConfig& a) { a.heapLimitMb = 64; },
      [](AppConfig& a) { a.wallLimitMs = 1000; },
      [](AppConfig& a) { a.isolation = IsolationMode::kContext; },
      [](AppConfig& a) { a.maxConcurrent = 5; },
      [](AppConfig& a) { a.dedicatedWorkers = true; },
  };
  for (size_t i = 0; i < edits.size(); ++i) {
    AppConfig edited = base;
    edits[i](edited);
    EXPECT_FALSE(sameApp(base, edited)) << "edit " << i;
    auto diff = diffApps({base}, {edited});
    EXPECT_EQ(diff.changed, Names{"a"}) << "edit " << i;
  }
}

TEST(AppDiffTest, OrderOfRoutesAndCronsAndTheOriginDoNotCount) {
  AppConfig a = app("a");
  AppConfig b = a;
  std::reverse(b.routes.begin(), b.routes.end());
  std::reverse(b.crons.begin(), b.crons.end());
  b.origin = "isolated.toml:40";
  EXPECT_TRUE(sameApp(a, b));
  EXPECT_EQ(diffApps({a}, {b}).unchanged, Names{"a"});
}

TEST(AppDiffTest, OrderOfBindingsDoesNotCount) {
  // A file lists bindings by name, a deploy in the order it adds them: the env is the same.
  AppConfig a = app("a");
  a.bindings.vars.push_back({"ALPHA", "1"});
  a.storage = {{"K", StorageKind::kKv, StorageBackend::kSqlite, "/k.db"},
               {"D", StorageKind::kDatabase, StorageBackend::kSqlite, "/d.db"}};
  a.services = {{"X", "x"}, {"B", "b"}};
  AppConfig b = a;
  std::reverse(b.bindings.vars.begin(), b.bindings.vars.end());
  std::reverse(b.storage.begin(), b.storage.end());
  std::reverse(b.services.begin(), b.services.end());
  EXPECT_TRUE(sameApp(a, b));
  b.storage[0].location = "/other.db";
  EXPECT_FALSE(sameApp(a, b));
}

TEST(AppDiffTest, ExplicitOverrideEqualToNothingIsStillAChange) {
  // cpu_limit = 50 pins the app to 50 even if [server] changes later: not the same as unset.
  AppConfig a = app("a");
  AppConfig b = a;
  b.cpuLimitMs = 50;
  EXPECT_FALSE(sameApp(a, b));
}

}  // namespace
}  // namespace isolated
