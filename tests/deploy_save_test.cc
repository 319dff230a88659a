// `ctl deploy --save` and `ctl undeploy --save` against the real binary: the server writes the
// change into its config file once it runs, a restart from the file serves it, a SIGHUP right
// after a save changes nothing, and a save is refused (nothing deployed) without a config file
// or when the operator edited the file since the server read it. Waits on replies and log
// lines, never on fixed sleeps.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "http_client.h"
#include "server_process.h"
#include "shell_command.h"
#include "temp_dir.h"

namespace isolated::test {
namespace {

using nlohmann::json;

std::string app(const std::string& label) {
  return "export default { fetch(request, env) {\n"
         "  return new Response('" +
         label + " ' + (env.GREETING ?? '-'));\n} };\n";
}

json appNamed(const ServerProcess& server, const std::string& name) {
  json reply = json::parse(runCtl(server, "--json apps").out, nullptr, false);
  if (reply.is_object()) {
    for (const auto& app : reply.value("apps", json::array())) {
      if (app.value("name", "") == name) return app;
    }
  }
  return json::object();
}

std::string body(const ServerProcess& server, const std::string& host) {
  auto r = httpRequest("GET", server.baseUrl() + "/", {}, {{"Host", host}});
  return r.status == 200 ? r.body : "status " + std::to_string(r.status);
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

const std::string kConfig =
    "# The operator's file.\n"
    "[server]\n"
    "workers = 1\n"
    "\n"
    "[[app]]  # the first app\n"
    "name = \"a\"\n"
    "script = \"a.js\"\n"
    "routes = [\"a.test/*\"]\n"
    "cpu_limit = 500  # per-app keys the deploy does not change stay\n"
    "\n"
    "# The second app, kept as written.\n"
    "[[app]]\n"
    "name = \"b\"\n"
    "script = \"b.js\"\n"
    "routes = [\"b.test/*\"]\n";

class DeploySaveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("a.js", app("a1"));
    dir_.write("b.js", app("b1"));
    config_ = dir_.write("isolated.toml", kConfig);
  }
  void start() {
    server_.reset();
    server_ = std::make_unique<ServerProcess>("", std::vector<std::string>{"--config", config_});
    ASSERT_NE(server_->waitReady(), 0) << server_->output();
  }
  std::string file() const {
    std::ifstream in(config_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  // Sends SIGHUP and returns the `config reloaded` line it leads to.
  std::string reload() {
    size_t before = server_->countLines("msg=\"config reloaded\"");
    server_->signal(SIGHUP);
    EXPECT_TRUE(server_->waitForCount("msg=\"config reloaded\"", before + 1)) << server_->output();
    std::string last;
    server_->waitForLine(
        [&](const std::string& line) {
          if (contains(line, "msg=\"config reloaded\"")) last = line;
          return false;
        },
        std::chrono::milliseconds(0));
    return last;
  }

  TempDir dir_;
  std::string config_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(DeploySaveTest, ASavedDeployServesAfterARestartAndASighupChangesNothing) {
  start();
  std::string v2 = dir_.write("a2.js", app("a2"));
  auto r = runCtl(*server_, "deploy a " + v2 + " --var GREETING=hi --save");
  ASSERT_EQ(r.exitCode, 0) << r.out << server_->output();
  EXPECT_TRUE(contains(r.out, "saved to " + config_)) << r.out;
  EXPECT_EQ(body(*server_, "a.test"), "a2 hi");
  std::string saved = file();
  // Only app a's table changed: the comments around it and app b are as written.
  EXPECT_TRUE(saved.starts_with("# The operator's file.\n[server]\nworkers = 1\n\n[[app]]\n"))
      << saved;
  EXPECT_TRUE(saved.ends_with(
      "\n# The second app, kept as written.\n[[app]]\nname = \"b\"\nscript = \"b.js\"\n"
      "routes = [\"b.test/*\"]\n"))
      << saved;
  EXPECT_TRUE(contains(saved, "script = \"a2.js\"\n")) << saved;
  EXPECT_TRUE(contains(saved, "cpu_limit = 500\n")) << saved;
  EXPECT_TRUE(contains(saved, "GREETING = \"hi\"")) << saved;

  // A new app, saved too.
  std::string n = dir_.write("n.js", app("n1"));
  r = runCtl(*server_, "deploy n " + n + " --route 'n.test/*' --save");
  ASSERT_EQ(r.exitCode, 0) << r.out;
  EXPECT_TRUE(contains(file(), "name = \"n\"")) << file();

  // The file now describes what runs: a reload deploys and undeploys nothing.
  std::string line = reload();
  EXPECT_EQ(logField(line, "deploying"), "0") << line;
  EXPECT_EQ(logField(line, "undeployed"), "0") << line;
  EXPECT_EQ(appNamed(*server_, "a").value("version", 0), 2);

  // A restart from the file serves the saved versions.
  start();
  EXPECT_EQ(body(*server_, "a.test"), "a2 hi");
  EXPECT_EQ(body(*server_, "n.test"), "n1 -");
  EXPECT_EQ(body(*server_, "b.test"), "b1 -");

  // An undeploy --save removes the app's table; the restart no longer has it.
  r = runCtl(*server_, "undeploy n --save");
  ASSERT_EQ(r.exitCode, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "saved to")) << r.out;
  EXPECT_FALSE(contains(file(), "name = \"n\"")) << file();
  line = reload();
  EXPECT_EQ(logField(line, "deploying"), "0") << line;
  start();
  EXPECT_EQ(body(*server_, "n.test"), "status 404");
  EXPECT_EQ(body(*server_, "a.test"), "a2 hi");
}

TEST_F(DeploySaveTest, UnderWatchTheSavedFileReloadsToNoChange) {
  server_ = std::make_unique<ServerProcess>(
      "", std::vector<std::string>{"--config", config_, "--watch", "on"});
  ASSERT_NE(server_->waitReady(), 0) << server_->output();
  std::string v2 = dir_.write("a2.js", app("a2"));
  auto r = runCtl(*server_, "deploy a " + v2 + " --save");
  ASSERT_EQ(r.exitCode, 0) << r.out;
  // The watcher sees the file the server wrote and reads it again: nothing to apply.
  auto line = server_->waitForLine(
      [](const std::string& l) { return contains(l, "msg=\"config reloaded\""); });
  ASSERT_TRUE(line) << server_->output();
  EXPECT_EQ(logField(*line, "deploying"), "0") << *line;
  EXPECT_EQ(logField(*line, "undeployed"), "0") << *line;
  EXPECT_EQ(appNamed(*server_, "a").value("version", 0), 2);
  EXPECT_EQ(body(*server_, "a.test"), "a2 -");
}

TEST_F(DeploySaveTest, WithoutSaveTheAnswerSaysRuntimeOnly) {
  start();
  std::string v2 = dir_.write("a2.js", app("a2"));
  auto r = runCtl(*server_, "deploy a " + v2);
  ASSERT_EQ(r.exitCode, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "runtime only (not saved; use --save)")) << r.out;
  EXPECT_EQ(file(), kConfig);
  r = runCtl(*server_, "undeploy b");
  ASSERT_EQ(r.exitCode, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "runtime only (not saved; use --save)")) << r.out;
  EXPECT_EQ(file(), kConfig);
}

TEST_F(DeploySaveTest, AnEditTheServerHasNotReadIsNotOverwritten) {
  start();
  std::string edited = kConfig + "# an operator's edit, not yet reloaded\n";
  dir_.write("isolated.toml", edited);
  std::string v2 = dir_.write("a2.js", app("a2"));
  auto r = runCtl(*server_, "deploy a " + v2 + " --save");
  EXPECT_EQ(r.exitCode, 1) << r.out;
  EXPECT_TRUE(contains(r.out, "changed on disk since the server read it")) << r.out;
  EXPECT_TRUE(contains(r.out, "nothing was deployed")) << r.out;
  EXPECT_EQ(body(*server_, "a.test"), "a1 -");
  EXPECT_EQ(file(), edited);
  r = runCtl(*server_, "undeploy b --save");
  EXPECT_EQ(r.exitCode, 1) << r.out;
  EXPECT_EQ(body(*server_, "b.test"), "b1 -");

  // Once the server has read the edit, the save goes on from it.
  ASSERT_EQ(runCtl(*server_, "reload").exitCode, 0);
  r = runCtl(*server_, "deploy a " + v2 + " --save");
  ASSERT_EQ(r.exitCode, 0) << r.out;
  EXPECT_TRUE(contains(file(), "# an operator's edit, not yet reloaded\n")) << file();
  EXPECT_TRUE(contains(file(), "script = \"a2.js\"")) << file();
}

TEST_F(DeploySaveTest, ARefusedDeployWritesNothing) {
  start();
  std::string broken = dir_.write("broken.js", "export default {\n  fetch() { return x +; }\n};\n");
  auto r = runCtl(*server_, "deploy a " + broken + " --save");
  EXPECT_EQ(r.exitCode, 1) << r.out;
  EXPECT_TRUE(contains(r.out, "broken.js:2")) << r.out;
  EXPECT_EQ(file(), kConfig);
  EXPECT_EQ(body(*server_, "a.test"), "a1 -");
}

TEST(DeploySaveWithoutConfigTest, IsRefusedAndNothingIsDeployed) {
  TempDir dir;
  std::string script = dir.write("main.js", app("main"));
  ServerProcess server(script, {"--workers", "1"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  std::string other = dir.write("n.js", app("n"));
  auto r = runCtl(server, "deploy n " + other + " --route 'n.test/*' --save");
  EXPECT_EQ(r.exitCode, 1) << r.out;
  EXPECT_TRUE(contains(r.out, "nothing to save to")) << r.out;
  EXPECT_TRUE(appNamed(server, "n").empty());
  r = runCtl(server, "undeploy main --save");
  EXPECT_EQ(r.exitCode, 1) << r.out;
  EXPECT_TRUE(contains(r.out, "nothing to save to")) << r.out;
  EXPECT_EQ(body(server, "any.test"), "main -");
  // --save belongs to deploy and undeploy.
  EXPECT_EQ(runCtl(server, "status --save").exitCode, 2);
}

}  // namespace
}  // namespace isolated::test
