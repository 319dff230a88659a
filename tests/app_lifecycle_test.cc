// AppLifecycle without a server: a fake LifecycleHost records what the lifecycle asks of the
// pool and the queues (which worker loads a version, what is unloaded, the queues it fails, boot
// failures, settled versions). Covers validate-then-switch at boot and at runtime, a version
// refused by its worker, reports from workers that are not the validator, a validator lost
// mid-load, undeploy, refusals before anything switches, and the single-script boot failure.
// The same paths through real workers are tests/tenancy_test.cc's and tests/lifecycle_test.cc's.
#include "supervisor/apps/app_lifecycle.h"

#include <capnp/message.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tests/lifecycle_surroundings.h"

namespace isolated::supervisor {
namespace {

class FakeHost : public LifecycleHost {
 public:
  Stage current = Stage::kServing;
  std::optional<uint32_t> validator = 1;

  std::vector<std::pair<uint32_t, uint32_t>> preloads;  // worker, deployment
  std::vector<uint32_t> preloadedEverywhere;
  std::vector<uint32_t> unloaded;
  std::vector<std::pair<std::string, std::string>> failedQueues;  // app, kind
  std::vector<bool> settled;                                      // serves?
  std::vector<std::string> bootFailures;
  int restarts = 0;

  Stage stage() const override { return current; }
  std::optional<uint32_t> validatorFor(const App&) override { return validator; }
  void preloadOn(uint32_t workerId, const Deployment& deployment) override {
    preloads.emplace_back(workerId, deployment.id);
  }
  void preloadEverywhere(const Deployment& deployment) override {
    preloadedEverywhere.push_back(deployment.id);
  }
  void unloadEverywhere(uint32_t deployment) override { unloaded.push_back(deployment); }
  void failQueue(App& app, int status, std::string_view kind, const std::string&) override {
    EXPECT_EQ(status, 503);
    failedQueues.emplace_back(app.config.name, std::string(kind));
  }
  std::optional<std::string> registerBindings(const Deployment&) override { return std::nullopt; }
  void restartWorkers() override { ++restarts; }
  void versionSettled(bool serves) override { settled.push_back(serves); }
  void failBoot(const std::string& reason) override { bootFailures.push_back(reason); }
};

AppConfig appNamed(const std::string& name, std::vector<std::string> routes) {
  AppConfig app;
  app.name = name;
  app.scriptPath = "/nonexistent/" + name + ".js";  // the lifecycle reads no script itself
  app.routes = std::move(routes);
  return app;
}

class AppLifecycleTest : public ::testing::Test, protected LifecycleSurroundings {
 protected:
  // `configPath` empty and one app: a single-script server.
  void start(std::vector<AppConfig> list, std::string configPath = "/etc/isolated.toml") {
    config.configPath = std::move(configPath);
    config.apps = std::move(list);
    for (const auto& app : config.apps)
      apps.add(app).routed = true;
    ASSERT_EQ(apps.rebuildRoutes(), std::nullopt);
    lifecycle_.emplace(base.get(), config, logger, apps, cron, host_, nullptr);
  }

  // The worker's reports, as the supervisor decodes them from its channel.
  void loaded(uint32_t worker, uint32_t deployment) {
    capnp::MallocMessageBuilder message;
    auto report = message.initRoot<ipc::AppLoaded>();
    report.setApp(deployment);
    lifecycle_->onAppLoaded(worker, report.asReader());
  }
  void failed(uint32_t worker, uint32_t deployment, const std::string& why) {
    capnp::MallocMessageBuilder message;
    auto report = message.initRoot<ipc::LoadError>();
    report.setApp(deployment);
    report.setFile("app.js");
    report.setLine(3);
    report.setMessage(why);
    lifecycle_->onLoadError(worker, report.asReader());
  }
  // Boots every app: the deployments made, the pool up on worker 1, each version loaded.
  void boot() {
    host_.current = LifecycleHost::Stage::kBooting;
    lifecycle_->createBootDeployments();
    lifecycle_->onWorkerReady(1, true);
    for (const auto& [name, app] : apps.apps())
      loaded(1, app->candidate->id);
    host_.current = LifecycleHost::Stage::kServing;
    host_.preloads.clear();
    host_.settled.clear();
  }

  FakeHost host_;
  std::optional<AppLifecycle> lifecycle_;
};

TEST_F(AppLifecycleTest, AtBootEveryAppWaitsForThePoolThenServesOnceItsWorkerLoadedIt) {
  start({appNamed("shop", {"shop.example/*"}), appNamed("blog", {"blog.example/*"})});
  host_.current = LifecycleHost::Stage::kBooting;
  lifecycle_->createBootDeployments();
  EXPECT_TRUE(lifecycle_->validationsPending());
  // The first worker up while the pool is not: nothing loads on it yet.
  lifecycle_->onWorkerReady(1, false);
  EXPECT_TRUE(host_.preloads.empty());
  lifecycle_->onWorkerReady(1, true);
  ASSERT_EQ(host_.preloads.size(), 2u);
  EXPECT_EQ(apps.find("shop")->validatingWorker, 1u);
  EXPECT_EQ(apps.find("shop")->live, nullptr);

  uint32_t shop = apps.find("shop")->candidate->id;
  loaded(1, shop);
  EXPECT_NE(apps.find("shop")->live, nullptr);
  EXPECT_EQ(apps.find("shop")->live->id, shop);
  EXPECT_EQ(apps.find("shop")->candidate, nullptr);
  EXPECT_TRUE(lifecycle_->validationsPending());  // blog still loading
  loaded(1, apps.find("blog")->candidate->id);
  EXPECT_FALSE(lifecycle_->validationsPending());
  EXPECT_EQ(host_.settled, (std::vector<bool>{true, true}));
  EXPECT_TRUE(host_.unloaded.empty());  // no earlier version to drop
}

TEST_F(AppLifecycleTest, ANewVersionServesOnlyOnceLoadedAndTheOldOneIsUnloaded) {
  start({appNamed("shop", {"shop.example/*"})});
  boot();
  uint32_t first = apps.find("shop")->live->id;
  std::vector<std::optional<std::string>> told;
  auto error = lifecycle_->deploy(appNamed("shop", {"shop.example/*"}),
                                  [&](const std::optional<std::string>& e) { told.push_back(e); });
  ASSERT_EQ(error, std::nullopt);
  App& app = *apps.find("shop");
  ASSERT_NE(app.candidate, nullptr);
  uint32_t second = app.candidate->id;
  EXPECT_EQ(app.live->id, first);  // the old version serves while the new one loads
  EXPECT_EQ(host_.preloads, (std::vector<std::pair<uint32_t, uint32_t>>{{1, second}}));
  // Another deploy of the app while this one loads is refused at once.
  EXPECT_EQ(lifecycle_->deploy(appNamed("shop", {"shop.example/*"}), {}),
            "a deploy of 'shop' is already loading");

  loaded(1, second);
  EXPECT_EQ(app.live->id, second);
  EXPECT_EQ(host_.unloaded, std::vector<uint32_t>{first});
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0], std::nullopt);
}

TEST_F(AppLifecycleTest, AVersionItsWorkerCannotLoadIsRefusedAndTheOldOneKeepsServing) {
  start({appNamed("shop", {"shop.example/*"})});
  boot();
  uint32_t first = apps.find("shop")->live->id;
  std::vector<std::optional<std::string>> told;
  ASSERT_EQ(lifecycle_->deploy(appNamed("shop", {"shop.example/*"}),
                               [&](const std::optional<std::string>& e) { told.push_back(e); }),
            std::nullopt);
  uint32_t second = apps.find("shop")->candidate->id;
  failed(1, second, "SyntaxError: Unexpected token");
  App& app = *apps.find("shop");
  EXPECT_EQ(app.live->id, first);
  EXPECT_EQ(app.candidate, nullptr);
  EXPECT_EQ(app.lastError, "app.js:3: SyntaxError: Unexpected token");
  EXPECT_EQ(app.counters.loadFailures, 1u);
  EXPECT_EQ(host_.unloaded, std::vector<uint32_t>{second});
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0], "app.js:3: SyntaxError: Unexpected token");
  EXPECT_EQ(host_.settled, std::vector<bool>{false});
  EXPECT_TRUE(host_.failedQueues.empty());  // the live version still answers its queue
}

TEST_F(AppLifecycleTest, OnlyTheValidatingWorkerDecidesAndALostOneHandsTheLoadOn) {
  start({appNamed("shop", {"shop.example/*"})});
  boot();
  ASSERT_EQ(lifecycle_->deploy(appNamed("shop", {"shop.example/*"}), {}), std::nullopt);
  App& app = *apps.find("shop");
  uint32_t second = app.candidate->id;
  // Worker 2's reports about the candidate (a cold start there) switch nothing.
  loaded(2, second);
  failed(2, second, "RangeError");
  EXPECT_NE(app.candidate, nullptr);
  EXPECT_EQ(app.counters.coldStarts, 0u);
  EXPECT_EQ(app.counters.loadFailures, 1u);  // counted, but the deploy goes on
  // The validator is lost: the next home worker loads it, and its report decides.
  host_.validator = 2;
  lifecycle_->onWorkerLost(1);
  EXPECT_EQ(app.validatingWorker, 2u);
  EXPECT_EQ(host_.preloads.back(), (std::pair<uint32_t, uint32_t>{2, second}));
  loaded(2, second);
  EXPECT_EQ(app.live->id, second);
}

TEST_F(AppLifecycleTest, WhileEndingALostValidatorHandsNothingOn) {
  start({appNamed("shop", {"shop.example/*"})});
  boot();
  ASSERT_EQ(lifecycle_->deploy(appNamed("shop", {"shop.example/*"}), {}), std::nullopt);
  size_t before = host_.preloads.size();
  host_.current = LifecycleHost::Stage::kEnding;
  lifecycle_->onWorkerLost(1);
  EXPECT_EQ(apps.find("shop")->validatingWorker, 0u);
  EXPECT_EQ(host_.preloads.size(), before);
}

TEST_F(AppLifecycleTest, DeploysAreRefusedBeforeAnythingSwitches) {
  start({appNamed("shop", {"shop.example/*"})});
  boot();
  EXPECT_EQ(lifecycle_->deploy(appNamed("blog", {"shop.example/*"}), {}).has_value(), true);
  EXPECT_EQ(apps.find("blog"), nullptr);  // a clashing route leaves no app behind
  auto badCron = appNamed("blog", {"blog.example/*"});
  badCron.crons = {"61 * * * *"};
  auto error = lifecycle_->deploy(badCron, {});
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->rfind("cron '61 * * * *': ", 0), 0u) << *error;
  EXPECT_EQ(lifecycle_->deploy(appNamed("no/slash", {"x.example/*"}), {})
                .value_or("")
                .rfind("invalid app name 'no/slash'", 0),
            0u);
  host_.current = LifecycleHost::Stage::kPaused;
  EXPECT_EQ(lifecycle_->deploy(appNamed("blog", {"blog.example/*"}), {}),
            "the server is not serving");
  EXPECT_TRUE(host_.preloads.empty());
}

TEST_F(AppLifecycleTest, UndeployFailsTheQueueUnloadsAndUnroutes) {
  start({appNamed("shop", {"shop.example/*"}), appNamed("blog", {"blog.example/*"})});
  boot();
  uint32_t live = apps.find("shop")->live->id;
  ASSERT_EQ(lifecycle_->undeploy("shop"), std::nullopt);
  EXPECT_EQ(apps.find("shop"), nullptr);
  EXPECT_EQ(apps.route("shop.example", "/"), nullptr);
  EXPECT_NE(apps.route("blog.example", "/"), nullptr);
  EXPECT_EQ(host_.failedQueues,
            (std::vector<std::pair<std::string, std::string>>{{"shop", "app-undeployed"}}));
  EXPECT_EQ(host_.unloaded, std::vector<uint32_t>{live});
  EXPECT_EQ(lifecycle_->undeploy("shop"), "no app named 'shop'");
}

TEST_F(AppLifecycleTest, ARuntimeAppThatNeverLoadedLeavesNoTrace) {
  start({appNamed("shop", {"shop.example/*"})});
  boot();
  ASSERT_EQ(lifecycle_->deploy(appNamed("blog", {"blog.example/*"}), {}), std::nullopt);
  EXPECT_EQ(apps.route("blog.example", "/"), nullptr);  // routed only once it serves
  failed(1, apps.find("blog")->candidate->id, "boom");
  EXPECT_EQ(apps.find("blog"), nullptr);
  EXPECT_EQ(host_.failedQueues,
            (std::vector<std::pair<std::string, std::string>>{{"blog", "app-failed"}}));
}

TEST_F(AppLifecycleTest, TheSingleScriptServerFailsItsBootWhenItsScriptDoesNotLoad) {
  start({appNamed("app", {"*/*"})}, "");
  ASSERT_NE(lifecycle_->singleApp(), nullptr);
  host_.current = LifecycleHost::Stage::kBooting;
  lifecycle_->createBootDeployments();
  lifecycle_->onWorkerReady(1, true);
  failed(1, lifecycle_->singleApp()->candidate->id, "ReferenceError: x is not defined");
  EXPECT_EQ(host_.bootFailures,
            std::vector<std::string>{"app.js:3: ReferenceError: x is not defined"});
  EXPECT_TRUE(host_.settled.empty());
}

TEST_F(AppLifecycleTest, TheSingleScriptReloadRestartsTheWorkersOnceTheVersionServes) {
  start({appNamed("app", {"*/*"})}, "");
  boot();
  EXPECT_EQ(host_.preloadedEverywhere.size(), 1u);  // the warm pool, at boot
  ASSERT_TRUE(lifecycle_->reloadSingle(nullptr));
  EXPECT_TRUE(lifecycle_->singleReloadRunning());
  std::string why;
  EXPECT_FALSE(lifecycle_->reloadSingle(&why));
  EXPECT_EQ(why, "a reload is already running");
  EXPECT_EQ(host_.restarts, 0);
  loaded(1, lifecycle_->singleApp()->candidate->id);
  EXPECT_EQ(host_.restarts, 1);
  EXPECT_FALSE(lifecycle_->singleReloadRunning());
  EXPECT_EQ(host_.preloadedEverywhere.size(), 2u);
}

}  // namespace
}  // namespace isolated::supervisor
