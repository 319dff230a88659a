// Integration tests of scripts as people write them, against the real binary: TypeScript served
// directly (types stripped at load, errors naming the .ts file and line), and OpenWorkers'
// service-worker convention of a global `env`.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>
#include <string>

#include "http_client.h"
#include "server_process.h"

namespace isolated::test {
namespace {

using json = nlohmann::json;

const std::string kScripts = ISOLATED_TEST_SCRIPTS;

std::string tsScript(const std::string& name) {
  return kScripts + "/ts/" + name;
}

// Starts a server expected to fail at load, and returns its output once it has exited 1.
std::string loadFailure(const std::string& name) {
  ServerProcess server(tsScript(name), {"--workers", "1"});
  auto status = server.waitExit();
  EXPECT_TRUE(status.has_value()) << server.output();
  if (status) {
    EXPECT_TRUE(WIFEXITED(*status));
    EXPECT_EQ(WEXITSTATUS(*status), 1) << server.output();
  }
  return server.output();
}

TEST(ScriptsTest, ServesTypeScriptModuleWithTypesEnumsAndImports) {
  ServerProcess server(tsScript("app.ts"), {"--workers", "1", "--var", "GREETING=hi"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  auto r = httpGet(server.baseUrl() + "/");
  EXPECT_EQ(r.status, 200) << r.error << server.output();
  EXPECT_EQ(r.body, "hi from typescript\n");
  auto util = httpGet(server.baseUrl() + "/util");
  EXPECT_EQ(util.body, "UTIL Fast 1");
  EXPECT_EQ(httpGet(server.baseUrl() + "/util").body, "UTIL Fast 2");
}

TEST(ScriptsTest, RuntimeStackNamesTheTypeScriptLine) {
  ServerProcess server(tsScript("app.ts"), {"--workers", "1"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  auto r = httpGet(server.baseUrl() + "/throw");
  EXPECT_EQ(r.status, 500);
  EXPECT_TRUE(server.waitForLine([](const std::string& l) {
    return l.find("boom at runtime") != std::string::npos;
  })) << server.output();
  // The stack's frames: boom() on line 15 of app.ts.
  EXPECT_TRUE(server.waitForLine([](const std::string& l) {
    return l.find("app.ts:15:") != std::string::npos;
  })) << server.output();
}

TEST(ScriptsTest, SyntaxErrorNamesTheTypeScriptFileAndLine) {
  std::string out = loadFailure("syntax_error.ts");
  EXPECT_NE(out.find("syntax_error.ts:4"), std::string::npos) << out;
}

TEST(ScriptsTest, TopLevelExceptionNamesTheTypeScriptLine) {
  std::string out = loadFailure("throws_at_load.ts");
  EXPECT_NE(out.find("throws_at_load.ts:6"), std::string::npos) << out;
  EXPECT_NE(out.find("TypeError"), std::string::npos) << out;
}

TEST(ScriptsTest, NamespacesAreRefusedWithTheirLine) {
  std::string out = loadFailure("namespace.ts");
  EXPECT_NE(out.find("namespace.ts:4"), std::string::npos) << out;
  EXPECT_NE(out.find("namespaces are not supported"), std::string::npos) << out;
}

TEST(ScriptsTest, ExtensionlessImportIsRefusedWithAHint) {
  std::string out = loadFailure("missing_extension.ts");
  EXPECT_NE(out.find("'./util.ts'"), std::string::npos) << out;
}

TEST(ScriptsTest, ServiceWorkerSyntaxSeesTheGlobalEnv) {
  ServerProcess server(tsScript("listener.ts"),
                       {"--workers", "1", "--var", "GREETING=hello", "--secret", "TOKEN=s3"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  auto r = httpGet(server.baseUrl() + "/");
  ASSERT_EQ(r.status, 200) << r.error << server.output();
  json body = json::parse(r.body);
  EXPECT_EQ(body["env"], "hello");
  EXPECT_EQ(body["token"], "s3");
  EXPECT_EQ(body["global"], "hello");
  EXPECT_EQ(body["same"], true);
}

// The script snapshot helper (`isolated __snapshot-script`, on by default) loads .ts too, and
// its manifest hashes the files as written, so the workers accept the snapshot.
TEST(ScriptsTest, TypeScriptGetsAScriptSnapshot) {
  ServerProcess server(tsScript("app.ts"), {"--workers", "1"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  EXPECT_TRUE(server.waitForCount("script snapshot ready", 1)) << server.output();
  auto r = httpGet(server.baseUrl() + "/util");
  EXPECT_EQ(r.status, 200) << r.error << server.output();
  EXPECT_EQ(r.body, "UTIL Fast 1");
  EXPECT_EQ(server.countLines("snapshot unusable"), 0u) << server.output();
}

TEST(ScriptsTest, WithoutSnapshotsTypeScriptLoadsInEveryContext) {
  ServerProcess server(tsScript("app.ts"),
                       {"--workers", "1", "--isolation", "context", "--snapshot-script", "off"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  for (int i = 0; i < 3; ++i) {
    auto r = httpGet(server.baseUrl() + "/util");
    EXPECT_EQ(r.status, 200) << r.error << server.output();
    EXPECT_EQ(r.body, "UTIL Fast 1") << "each request gets a fresh context";
  }
}

// The global error events reach a served script: what no listener cancels is logged.
TEST(ScriptsTest, UnhandledRejectionsAndTimerErrorsAreLogged) {
  ServerProcess server(kScripts + "/unhandled.js", {"--workers", "1"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  EXPECT_EQ(httpGet(server.baseUrl() + "/quiet").body, "ok");
  EXPECT_EQ(httpGet(server.baseUrl() + "/lost").body, "ok");
  EXPECT_TRUE(server.waitForLine([](const std::string& l) {
    return l.find("Uncaught (in promise) Error: lost rejection") != std::string::npos;
  })) << server.output();
  EXPECT_EQ(httpGet(server.baseUrl() + "/timer").body, "ok");
  EXPECT_TRUE(server.waitForLine([](const std::string& l) {
    return l.find("Uncaught Error: timer threw") != std::string::npos;
  })) << server.output();
  // The cancelled one came first and was never logged.
  EXPECT_EQ(server.countLines("Uncaught (in promise) quiet"), 0u) << server.output();
}

}  // namespace
}  // namespace isolated::test
