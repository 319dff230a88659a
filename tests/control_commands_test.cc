// ControlCommands without a server: a fake OperatorActions records the actions the commands
// turn into, and each reply is checked (its "ok", its message or error). The real command path
// through the socket and a running pool is tests/ctl_test.cc's; the deploy commands are
// tests/deploy_save_test.cc's and tests/tenancy_test.cc's.
#include "supervisor/control_commands.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tests/lifecycle_surroundings.h"

namespace isolated::supervisor {
namespace {

class FakeServer : public OperatorActions, public InertLifecycleHost {
 public:
  bool isServing = true;
  bool reloadRefused = false;
  std::vector<std::string> actions;

  ServerStatus snapshot() const override {
    ServerStatus status;
    status.state = "serving";
    WorkerStatus worker;
    worker.id = 4;
    status.workerList.push_back(worker);
    return status;
  }
  std::string metricsText() override { return "isolated_up 1\n"; }
  bool beginReload(std::string* why) override {
    actions.push_back("reload");
    if (reloadRefused && why != nullptr) *why = "a reload is already running";
    return !reloadRefused;
  }
  size_t activeWorkers() const override { return 3; }
  bool recycleWorker(uint32_t id, const std::string& reason) override {
    actions.push_back("recycle " + std::to_string(id) + " " + reason);
    return id == 4;
  }
  std::optional<std::string> pause() override {
    actions.push_back("pause");
    return isServing ? std::optional<std::string>("draining") : std::nullopt;
  }
  std::optional<std::string> resume() override { return std::nullopt; }
  bool serving() const override { return isServing; }
  void scale(uint32_t workers) override { actions.push_back("scale " + std::to_string(workers)); }
  std::optional<std::string> triggerScheduled(const std::string& app,
                                              const std::string& cron) override {
    actions.push_back("cron " + app + " " + cron);
    return std::nullopt;
  }
};

class ControlCommandsTest : public ::testing::Test, protected LifecycleSurroundings {
 protected:
  void SetUp() override {
    AppConfig shop;
    shop.name = "shop";
    shop.scriptPath = "/dev/null";
    shop.routes = {"shop.example/*"};
    shop.crons = {"*/5 * * * *", "0 3 * * *"};
    AppConfig blog = shop;
    blog.name = "blog";
    blog.routes = {"blog.example/*"};
    blog.crons.clear();
    config.apps = {shop, blog};
    config.configPath = "/etc/isolated.toml";
    for (const auto& app : config.apps)
      apps.add(app).routed = true;
    ASSERT_EQ(apps.rebuildRoutes(), std::nullopt);
    apps.find("shop")->crons = parseCrons(shop.crons);
  }

  nlohmann::json run(const nlohmann::json& request) {
    auto reply = commands_.handleControl(
        request, [](const nlohmann::json&) { ADD_FAILURE() << "no command here answers later"; });
    EXPECT_TRUE(reply.has_value());
    return reply.value_or(nlohmann::json{});
  }

  FakeServer server_;
  AppLifecycle lifecycle_{base.get(), config, logger, apps, cron, server_, nullptr};
  DeployCommands deploys_{config, logger, apps, lifecycle_};
  ControlCommands commands_{config, server_, apps, lifecycle_, deploys_};
};

TEST_F(ControlCommandsTest, ScaleIsBoundedAndNeedsAServingServer) {
  EXPECT_EQ(run({{"cmd", "scale"}, {"workers", 0u}})["ok"], false);
  EXPECT_EQ(run({{"cmd", "scale"}, {"workers", 257u}})["ok"], false);
  EXPECT_EQ(run({{"cmd", "scale"}, {"workers", "3"}})["ok"], false);  // a number, not text
  EXPECT_EQ(run({{"cmd", "scale"}, {"workers", -3}})["ok"], false);
  EXPECT_TRUE(server_.actions.empty());
  auto reply = run({{"cmd", "scale"}, {"workers", 3u}});
  EXPECT_EQ(reply["ok"], true);
  EXPECT_EQ(reply["message"], "scaling to 3 workers");
  server_.isServing = false;
  EXPECT_EQ(run({{"cmd", "scale"}, {"workers", 5u}})["error"],
            "cannot scale: the server is not serving");
  EXPECT_EQ(server_.actions, std::vector<std::string>{"scale 3"});
}

TEST_F(ControlCommandsTest, ReloadSaysWhatItRereadsOrWhyNot) {
  auto reply = run({{"cmd", "reload"}});
  EXPECT_EQ(reply["message"], "re-read /etc/isolated.toml; changed apps are deploying");
  server_.reloadRefused = true;
  EXPECT_EQ(run({{"cmd", "reload"}})["error"], "cannot reload now: a reload is already running");
}

TEST_F(ControlCommandsTest, RestartNeedsAWorkerIdThatServes) {
  EXPECT_EQ(run({{"cmd", "restart"}})["ok"], false);
  EXPECT_EQ(run({{"cmd", "restart"}, {"id", 9u}})["error"], "no serving worker with id 9");
  EXPECT_EQ(run({{"cmd", "restart"}, {"id", 4u}})["message"], "recycling worker 4");
  EXPECT_EQ(server_.actions, (std::vector<std::string>{"recycle 9 manual", "recycle 4 manual"}));
}

TEST_F(ControlCommandsTest, TriggerCronRunsEveryScheduleOfTheAppOrTheOneNamed) {
  EXPECT_EQ(run({{"cmd", "trigger-cron"}})["error"],
            "trigger-cron needs \"app\": the server has several apps");
  EXPECT_EQ(run({{"cmd", "trigger-cron"}, {"app", "nope"}})["error"],
            "trigger-cron: no app named 'nope'");
  EXPECT_EQ(run({{"cmd", "trigger-cron"}, {"app", "blog"}})["error"],
            "trigger-cron needs \"cron\": no --cron schedule is configured");
  EXPECT_EQ(run({{"cmd", "trigger-cron"}, {"app", "shop"}})["ok"], true);
  EXPECT_EQ(run({{"cmd", "trigger-cron"}, {"app", "blog"}, {"cron", "0 1 * * *"}})["ok"], true);
  EXPECT_EQ(server_.actions,
            (std::vector<std::string>{"cron shop */5 * * * *", "cron shop 0 3 * * *",
                                      "cron blog 0 1 * * *"}));
}

TEST_F(ControlCommandsTest, ReadsAnswerFromTheSnapshotAndUnknownCommandsAreNamed) {
  auto workers = run({{"cmd", "workers"}});
  ASSERT_EQ(workers["workers"].size(), 1u);
  EXPECT_EQ(workers["workers"][0]["id"], 4);
  EXPECT_EQ(run({{"cmd", "metrics"}})["text"], "isolated_up 1\n");
  auto unknown = run({{"cmd", "explode"}});
  EXPECT_EQ(unknown["ok"], false);
  EXPECT_EQ(unknown["error"].get<std::string>().rfind("unknown command 'explode'", 0), 0u);
  EXPECT_TRUE(server_.actions.empty());
}

TEST_F(ControlCommandsTest, UndeployOfAnAppTakesItOutAndSaysTheFileIsUnchanged) {
  EXPECT_EQ(run({{"cmd", "undeploy"}})["ok"], false);
  auto reply = run({{"cmd", "undeploy"}, {"name", "blog"}});
  EXPECT_EQ(reply["ok"], true);
  EXPECT_EQ(reply["message"],
            "undeployed 'blog'; its requests in flight finish; runtime only (not saved; use "
            "--save): a reload or restart applies /etc/isolated.toml again");
  EXPECT_EQ(apps.find("blog"), nullptr);
  EXPECT_EQ(run({{"cmd", "undeploy"}, {"name", "blog"}})["error"], "no app named 'blog'");
}

}  // namespace
}  // namespace isolated::supervisor
