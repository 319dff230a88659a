// Startup snapshots, end to end: contexts and isolates made from the built-ins snapshot and from
// a script snapshot start with fresh per-context state and every built-in; a script that is not
// safe to snapshot (or crashes the helper) is evaluated per context instead; a reload makes a
// new script snapshot. Behaviour only: the timings are in bench/ (isolated __bench-startup).
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

#include "cpu_room.h"
#include "http_client.h"
#include "server_process.h"

namespace isolated::test {
namespace {

const std::string kScripts = ISOLATED_TEST_SCRIPTS;

std::string script(const std::string& name) {
  return kScripts + "/" + name;
}

struct Variant {
  std::string name;
  std::vector<std::string> flags;
  // Whether the helper is expected to report a script snapshot.
  bool scriptSnapshot;
};

// So that CTest's listing shows the variant's name rather than its bytes.
void PrintTo(const Variant& variant, std::ostream* out) {
  *out << variant.name;
}

// (script, mode, snapshot variant)
using Params = std::tuple<std::string, std::string, Variant>;

class FreshContextTest : public ::testing::TestWithParam<Params> {};

// Two requests in `context` or `isolate` mode run in two contexts made from one snapshot: none of
// the state below may be shared, whichever snapshot they come from.
TEST_P(FreshContextTest, EachContextStartsFresh) {
  const auto& [file, mode, variant] = GetParam();
  std::vector<std::string> args{"--workers", "1", "--isolation", mode};
  args.insert(args.end(), variant.flags.begin(), variant.flags.end());
  ServerProcess server(script(file), args);
  ASSERT_NE(server.waitReady(), 0) << server.output();

  std::vector<nlohmann::json> answers;
  for (int i = 0; i < 3; ++i) {
    auto result = httpGet(server.baseUrl() + "/");
    ASSERT_EQ(result.status, 200) << result.body << server.output();
    answers.push_back(nlohmann::json::parse(result.body));
  }
  for (size_t i = 0; i < answers.size(); ++i) {
    EXPECT_EQ(answers[i]["count"], 1) << "state leaked into context " << i;
    EXPECT_EQ(answers[i]["builtins"], "function,function,function,function");
    for (size_t j = 0; j < i; ++j) {
      // initContext() sets timeOrigin per context: contexts made from one snapshot must not
      // share the one read when the snapshot was built.
      EXPECT_NE(answers[i]["timeOrigin"], answers[j]["timeOrigin"]);
      EXPECT_NE(answers[i]["random"], answers[j]["random"]);
      EXPECT_NE(answers[i]["uuid"], answers[j]["uuid"]);
    }
  }
  // timeOrigin is this run's wall clock, not the build's.
  double now = static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
  EXPECT_LT(std::abs(answers.back()["timeOrigin"].get<double>() - now), 60'000.0);

  EXPECT_EQ(server.countLines("script snapshot ready"), variant.scriptSnapshot ? 1u : 0u)
      << server.output();
  EXPECT_EQ(server.countLines("snapshot unusable"), 0u) << server.output();
}

const Variant kVariants[] = {
    {"script", {}, true},
    {"builtins", {"--snapshot-script", "off"}, false},
    {"none", {"--builtins-snapshot", "off"}, false},
};

INSTANTIATE_TEST_SUITE_P(
    Snapshots, FreshContextTest,
    ::testing::Combine(::testing::Values("fresh_state.js", "fresh_state_classic.js"),
                       ::testing::Values("context", "isolate"), ::testing::ValuesIn(kVariants)),
    [](const ::testing::TestParamInfo<Params>& info) {
      std::string file = std::get<0>(info.param);
      std::string name = file.substr(0, file.find('.')) + "_" + std::get<1>(info.param) + "_" +
                         std::get<2>(info.param).name;
      return name;
    });

class LazyGlobalsTest : public ::testing::TestWithParam<Variant> {};

// In `context` isolation every request gets a context in which no lazily loaded global has been
// loaded yet (x-lazy lists them all), and the handler's first use of each works: streams made by
// the script, by a body, by the text and compression streams, a request body streamed in and
// straight back out, and crypto.subtle.
TEST_P(LazyGlobalsTest, FirstUseInsideAHandlerInAFreshContext) {
  std::vector<std::string> args{"--workers", "1", "--isolation", "context"};
  args.insert(args.end(), GetParam().flags.begin(), GetParam().flags.end());
  // Each first use compiles its module (tests/cpu_room.h): under ASan in CI the first /stream
  // went past the default limit of 50 ms in all three variants.
  ServerProcess server(script("lazy_globals.js"), isolated::testing::withCpuRoomForFirstUse(args));
  ASSERT_NE(server.waitReady(), 0) << server.output();
  const std::string kAllLazy = "ReadableStream,SubtleCrypto,TextEncoderStream,CompressionStream";
  const std::string big(200 * 1024, 'b');  // more than one chunk: streamed in (bodyFollows)
  struct Case {
    std::string method, path, body, expected;
  };
  const Case cases[] = {
      {"GET", "/stream", "", "function true"},
      {"GET", "/", "", "Hello World"},
      {"POST", "/echo", "small body", "small body"},
      {"GET", "/subtle", "", "ba7816bf true"},
      {"POST", "/echo", big, big},
      {"POST", "/length", big, std::to_string(big.size()) + " " + kAllLazy},
      {"GET", "/gzip", "", "zipped"},
      {"GET", "/", "", "Hello World"},
  };
  for (const auto& c : cases) {
    auto result = httpRequest(c.method, server.baseUrl() + c.path, c.body);
    ASSERT_EQ(result.status, 200) << c.path << " " << result.body << server.output();
    EXPECT_EQ(result.body.size(), c.expected.size()) << c.path;
    EXPECT_TRUE(result.body == c.expected) << c.path << ": " << result.body.substr(0, 80);
    EXPECT_EQ(result.headers["x-lazy"], kAllLazy) << c.path;
  }
  EXPECT_EQ(server.countLines("script snapshot ready"), GetParam().scriptSnapshot ? 1u : 0u)
      << server.output();
}

INSTANTIATE_TEST_SUITE_P(Snapshots, LazyGlobalsTest, ::testing::ValuesIn(kVariants),
                         [](const ::testing::TestParamInfo<Variant>& info) {
                           return info.param.name;
                         });

// A top level that uses the host is not snapshotted: the helper says why once, and the workers
// evaluate the script (its console line appears) and serve.
TEST(ScriptSnapshotTest, UnsafeTopLevelFallsBackToEvaluation) {
  ServerProcess server(script("console_at_top.js"), {"--workers", "1"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  auto line = server.waitForLine(
      [](const std::string& l) { return l.find("script snapshot off") != std::string::npos; });
  ASSERT_TRUE(line.has_value()) << server.output();
  EXPECT_NE(logField(*line, "reason").find("console"), std::string::npos) << *line;
  EXPECT_EQ(httpGet(server.baseUrl() + "/").body, "served");
  EXPECT_GE(server.countLines("top level ran"), 1u) << server.output();
  EXPECT_EQ(server.countLines("script snapshot ready"), 0u);
}

// A module namespace object (which V8 10.2 would abort on) and WebAssembly (absent while V8
// makes a snapshot) are found in the script's text: the helper says so, never crashes, and the
// workers evaluate the script.
TEST(ScriptSnapshotTest, NamespaceImportFallsBackToEvaluation) {
  ServerProcess server(script("namespace_import.mjs"), {"--workers", "1"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  EXPECT_EQ(httpGet(server.baseUrl() + "/").body, "hello from a namespace");
  auto line = server.waitForLine(
      [](const std::string& l) { return l.find("script snapshot off") != std::string::npos; });
  ASSERT_TRUE(line.has_value()) << server.output();
  EXPECT_NE(logField(*line, "reason").find("namespace"), std::string::npos) << *line;
  EXPECT_EQ(server.countLines("the helper failed"), 0u) << server.output();
}

TEST(ScriptSnapshotTest, WebAssemblyFallsBackToEvaluation) {
  ServerProcess server(script("wasm.js"), {"--workers", "1"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  EXPECT_EQ(httpGet(server.baseUrl() + "/").body, "42");
  auto line = server.waitForLine(
      [](const std::string& l) { return l.find("script snapshot off") != std::string::npos; });
  ASSERT_TRUE(line.has_value()) << server.output();
  EXPECT_NE(logField(*line, "reason").find("WebAssembly"), std::string::npos) << *line;
}

// A helper that dies (V8 aborts on what it cannot serialise) costs the snapshot only: here it is
// killed by the test, as the supervisor would after kHelperTimeout.
TEST(ScriptSnapshotTest, HelperDeathFallsBackToEvaluation) {
  ServerProcess server(script("fresh_state.js"), {"--workers", "1", "--log-level", "debug"});
  auto started = server.waitForLine([](const std::string& l) {
    return l.find("script snapshot helper started") != std::string::npos;
  });
  ASSERT_TRUE(started.has_value()) << server.output();
  ::kill(std::stoi(logField(*started, "pid")), SIGKILL);
  ASSERT_NE(server.waitReady(), 0) << server.output();
  EXPECT_EQ(httpGet(server.baseUrl() + "/").status, 200);
  EXPECT_EQ(server.countLines("script snapshot ready") + server.countLines("the helper failed"), 1u)
      << server.output();
}

// Environment bindings: a module sees them in its handlers' `env`, given to every context after
// it is deserialised, so it is snapshotted; a classic script sees them as globals at top level,
// which the helper does not have, so it is not.
TEST(ScriptSnapshotTest, ModuleWithBindingsIsSnapshottedAndGetsEnv) {
  ServerProcess server(script("lifecycle.js"),
                       {"--workers", "1", "--isolation", "context", "--var", "GREETING=hi"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  for (int i = 0; i < 2; ++i) {
    auto r = httpGet(server.baseUrl() + "/env");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find("\"GREETING\":\"hi\""), std::string::npos) << r.body;
  }
  EXPECT_EQ(server.countLines("script snapshot ready"), 1u) << server.output();
}

TEST(ScriptSnapshotTest, ClassicScriptWithBindingsIsNotSnapshotted) {
  ServerProcess server(script("lifecycle_listener.js"), {"--workers", "1", "--var", "GREETING=hi"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  auto r = httpGet(server.baseUrl() + "/globals");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"GREETING\":\"hi\""), std::string::npos) << r.body;
  auto line = server.waitForLine(
      [](const std::string& l) { return l.find("script snapshot off") != std::string::npos; });
  ASSERT_TRUE(line.has_value()) << server.output();
  EXPECT_NE(logField(*line, "reason").find("bindings"), std::string::npos) << *line;
}

// A script that fails to load is reported by the workers, as without a snapshot.
TEST(ScriptSnapshotTest, LoadErrorsStillComeFromTheWorkers) {
  ServerProcess server(script("throws_at_load.js"), {"--workers", "1"});
  auto status = server.waitExit();
  ASSERT_TRUE(status.has_value()) << server.output();
  EXPECT_NE(WEXITSTATUS(*status), 0);
  EXPECT_EQ(server.countLines("script snapshot ready"), 0u);
}

// SIGHUP makes a new script snapshot from the file as it is now, and the new workers serve it.
TEST(ScriptSnapshotTest, ReloadMakesANewSnapshot) {
  auto dir = std::filesystem::temp_directory_path() /
             ("isolated-snapshot-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "version.js").string();
  auto write = [&](const std::string& version) {
    std::ofstream(path, std::ios::trunc)
        << "export default { fetch() { return new Response('" << version << "'); } };\n";
  };
  write("v1");
  {
    ServerProcess server(path, {"--workers", "2"});
    ASSERT_NE(server.waitReady(), 0) << server.output();
    EXPECT_EQ(httpGet(server.baseUrl() + "/").body, "v1");
    EXPECT_EQ(server.countLines("script snapshot ready"), 1u) << server.output();

    write("v2");
    server.signal(SIGHUP);
    ASSERT_TRUE(server.waitForCount("reload complete", 1)) << server.output();
    EXPECT_EQ(server.countLines("script snapshot ready"), 2u) << server.output();
    for (int i = 0; i < 4; ++i)
      EXPECT_EQ(httpGet(server.baseUrl() + "/").body, "v2");
  }
  std::filesystem::remove_all(dir);
}

// A reload loads the new version into workers that hold the old one: one worker then has an
// isolate made from a script snapshot beside one made from the built-ins snapshot, which V8
// 10.2 allows only while the two blobs share their read-only part. A script snapshot written
// with FunctionCodeHandling::kKeep and a top level that had loaded the stream modules broke
// that: every worker died with SIGSEGV in V8's string table deserialiser after the reload
// (docs/architecture.md, "Script snapshot"). This keeps it from coming back.
TEST(ScriptSnapshotTest, ATopLevelUsingStreamsSurvivesAReload) {
  ServerProcess server(script("top_level_streams.js"), {"--workers", "2"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  ASSERT_EQ(server.countLines("script snapshot ready"), 1u) << server.output();
  EXPECT_EQ(httpGet(server.baseUrl() + "/").body, "top level said TOP");
  server.signal(SIGHUP);
  ASSERT_TRUE(server.waitForCount("reload complete", 1)) << server.output();
  for (int i = 0; i < 4; ++i) {
    HttpResult result = httpGet(server.baseUrl() + "/");
    EXPECT_EQ(result.status, 200) << result.error << server.output();
    EXPECT_EQ(result.body, "top level said TOP");
  }
  EXPECT_EQ(server.countLines("killed by signal"), 0u) << server.output();
  EXPECT_EQ(server.countLines("worker lost"), 0u) << server.output();
}

// A worker spawned after the script was edited (here, a crash replacement) serves the file as
// it is now, as it would without the snapshot: the snapshot's source list no longer matches.
TEST(ScriptSnapshotTest, AReplacementWorkerRunsTheDeployedVersionNotTheEditedFile) {
  auto dir =
      std::filesystem::temp_directory_path() / ("isolated-stale-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::filesystem::permissions(
      dir, std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
               std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
               std::filesystem::perms::others_exec);
  std::string path = (dir / "version.js").string();
  std::ofstream(path) << "export default { fetch() { return new Response('v1'); } };\n";
  {
    ServerProcess server(path, {"--workers", "1"});
    ASSERT_NE(server.waitReady(), 0) << server.output();
    EXPECT_EQ(httpGet(server.baseUrl() + "/").body, "v1");
    // The file is edited, then the worker crashes: its replacement still runs the deployed
    // version (pinned, ipc/protocol.h rule 22) from the snapshot, which matches it.
    std::ofstream(path, std::ios::trunc)
        << "export default { fetch() { return new Response('v2'); } };\n";
    ::kill(server.liveWorkerPids().at(0), SIGKILL);
    ASSERT_TRUE(server.waitForCount("msg=\"worker ready\"", 2)) << server.output();
    EXPECT_EQ(httpGet(server.baseUrl() + "/").body, "v1");
    EXPECT_EQ(server.countLines("script snapshot is stale"), 0u) << server.output();
    // A reload deploys the edited file.
    server.signal(SIGHUP);
    ASSERT_TRUE(server.waitForCount("reload complete", 1)) << server.output();
    EXPECT_EQ(httpGet(server.baseUrl() + "/").body, "v2");
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace isolated::test
