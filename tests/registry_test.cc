// Integration tests of the app registry (`isolated serve --registry postgres://…`): two real
// servers on port 0 sharing a real PostgreSQL (tests/postgres_server.h) and one key file.
// A deploy on one server serves on the other within about a second (LISTEN/NOTIFY), undeploys
// propagate, a refused deploy writes nothing, secrets are ciphertext in the database yet reach
// the app, a restarted server reloads its apps from the registry (with config apps beside them),
// PostgreSQL down at a deploy is a clear ctl error while the old version keeps serving, and
// bad keys refuse to start. Every wait is for a condition, never a fixed sleep.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "eventually.h"
#include "http_client.h"
#include "postgres_server.h"
#include "server_process.h"
#include "shell_command.h"
#include "temp_dir.h"

namespace isolated::test {
namespace {

using Clock = std::chrono::steady_clock;

std::string app(const std::string& label) {
  return "export default { fetch(request, env) {\n"
         "  return new Response('" +
         label +
         " ' + (env.GREETING ?? '-') + ' ' + (env.TOKEN ?? '-'));\n"
         "} };\n";
}

HttpResult get(const ServerProcess& server, const std::string& host) {
  return httpRequest("GET", server.baseUrl() + "/", {}, {{"Host", host}});
}

std::string bodyOf(const ServerProcess& server, const std::string& host) {
  auto r = get(server, host);
  return r.status == 200 ? r.body : std::to_string(r.status);
}

// Rows of a query, each "a|b|...\n".
std::string query(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  std::string out;
  if (PQstatus(conn) == CONNECTION_OK) {
    PGresult* result = PQexec(conn, sql.c_str());
    for (int r = 0; r < PQntuples(result); ++r) {
      for (int c = 0; c < PQnfields(result); ++c)
        out += std::string(PQgetvalue(result, r, c)) + "|";
      out += "\n";
    }
    PQclear(result);
  } else {
    out = std::string("connection failed: ") + PQerrorMessage(conn);
  }
  PQfinish(conn);
  return out;
}

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!postgres_.available()) GTEST_SKIP() << postgres_.error();
    keyPath_ = dir_.write("registry.key", std::string(64, 'c') + "\n");
    ::chmod(keyPath_.c_str(), 0600);
  }

  std::vector<std::string> registryArgs() const {
    return {"--registry", postgres_.url(), "--registry-key", keyPath_, "--workers", "1"};
  }

  std::unique_ptr<ServerProcess> startServer(std::vector<std::string> extra = {}) {
    auto args = registryArgs();
    args.insert(args.end(), extra.begin(), extra.end());
    auto server = std::make_unique<ServerProcess>("", args);
    EXPECT_NE(server->waitReady(), 0) << server->output();
    return server;
  }

  PostgresServer postgres_;
  TempDir dir_;
  std::string keyPath_;
};

TEST_F(RegistryTest, ADeployOnOneServerServesOnTheOtherWithinASecond) {
  auto one = startServer();
  auto two = startServer();
  ASSERT_TRUE(two->waitForLine([](const std::string& l) {
    return l.find("registry listening") != std::string::npos;
  })) << two->output();
  EXPECT_EQ(get(*two, "shop.test").status, 404);

  std::string v1 = dir_.write("v1.js", app("v1"));
  auto r = runCtl(*one, "deploy shop " + v1 + " --route 'shop.test/*' --var GREETING=hi");
  ASSERT_EQ(r.exitCode, 0) << r.out << one->output();
  EXPECT_NE(r.out.find("written to the registry"), std::string::npos) << r.out;
  auto written = Clock::now();
  EXPECT_EQ(bodyOf(*one, "shop.test"), "v1 hi -");
  // The other server learns of it by NOTIFY: well before the 10 s safety-net re-read.
  ASSERT_TRUE(eventually([&] { return bodyOf(*two, "shop.test") == "v1 hi -"; }, 8s))
      << two->output();
  auto took = Clock::now() - written;
  EXPECT_LT(took, 3s) << "took "
                      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                      << " ms";

  // A new version from the second server reaches the first; it keeps routes and vars.
  std::string v2 = dir_.write("v2.js", app("v2"));
  r = runCtl(*two, "deploy shop " + v2);
  ASSERT_EQ(r.exitCode, 0) << r.out << two->output();
  EXPECT_EQ(bodyOf(*two, "shop.test"), "v2 hi -");
  ASSERT_TRUE(eventually([&] { return bodyOf(*one, "shop.test") == "v2 hi -"; }, 8s))
      << one->output();
  // Each server applied each version once.
  EXPECT_EQ(one->countLines("registry version applied"), 1u) << one->output();
  EXPECT_EQ(two->countLines("registry version applied"), 1u) << two->output();

  r = runCtl(*one, "undeploy shop");
  ASSERT_EQ(r.exitCode, 0) << r.out;
  EXPECT_NE(r.out.find("every server sharing it"), std::string::npos) << r.out;
  EXPECT_EQ(get(*one, "shop.test").status, 404);
  ASSERT_TRUE(eventually([&] { return get(*two, "shop.test").status == 404; }, 8s))
      << two->output();
  EXPECT_EQ(query(postgres_.url(), "SELECT count(*) FROM isolated_apps"), "0|\n");
}

TEST_F(RegistryTest, ARefusedDeployWritesNothing) {
  auto one = startServer();
  std::string broken = dir_.write("broken.js", "export default {\n  fetch() { return x +; }\n};\n");
  auto r = runCtl(*one, "deploy bad " + broken + " --route 'bad.test/*'");
  EXPECT_EQ(r.exitCode, 1) << r.out;
  EXPECT_NE(r.out.find("broken.js:2"), std::string::npos) << r.out;
  EXPECT_EQ(query(postgres_.url(), "SELECT count(*) FROM isolated_app_versions"), "0|\n");

  // A good version, then a broken one: the registry keeps the good one.
  std::string good = dir_.write("good.js", app("good"));
  ASSERT_EQ(runCtl(*one, "deploy bad " + good + " --route 'bad.test/*'").exitCode, 0);
  r = runCtl(*one, "deploy bad " + broken);
  EXPECT_EQ(r.exitCode, 1) << r.out;
  EXPECT_EQ(query(postgres_.url(), "SELECT count(*) FROM isolated_app_versions"), "1|\n");
  EXPECT_EQ(bodyOf(*one, "bad.test"), "good - -");
}

TEST_F(RegistryTest, SaveIsRefusedTheRegistryIsTheSourceOfTruth) {
  auto one = startServer();
  std::string good = dir_.write("good.js", app("good"));
  auto r = runCtl(*one, "deploy saved " + good + " --route 'saved.test/*' --save");
  EXPECT_EQ(r.exitCode, 1) << r.out;
  EXPECT_NE(r.out.find("registry"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("nothing was deployed"), std::string::npos) << r.out;
  EXPECT_EQ(query(postgres_.url(), "SELECT count(*) FROM isolated_app_versions"), "0|\n");
  EXPECT_EQ(get(*one, "saved.test").status, 404);
  ASSERT_EQ(runCtl(*one, "deploy saved " + good + " --route 'saved.test/*'").exitCode, 0);
  r = runCtl(*one, "undeploy saved --save");
  EXPECT_EQ(r.exitCode, 1) << r.out;
  EXPECT_EQ(bodyOf(*one, "saved.test"), "good - -");
}

TEST_F(RegistryTest, BindingsGivenToCtlDeployReachEveryServer) {
  auto one = startServer();
  auto two = startServer();
  ASSERT_TRUE(two->waitForLine([](const std::string& l) {
    return l.find("registry listening") != std::string::npos;
  })) << two->output();
  auto at = [](const ServerProcess& server, const std::string& path) {
    auto r = httpRequest("GET", server.baseUrl() + path, {}, {{"Host", "kv.test"}});
    return r.status == 200 ? r.body : std::to_string(r.status) + " " + r.body;
  };
  ASSERT_EQ(runCtl(*one, "deploy back " + dir_.write("back.js", app("back")) +
                             " --route "
                             "'back.test/*'")
                .exitCode,
            0);
  // One SQLite file both servers of this machine open, and a service binding to `back`.
  std::string kvApp = dir_.write(
      "kv.js",
      "export default { async fetch(request, env) {\n"
      "  const url = new URL(request.url);\n"
      "  if (url.pathname === '/put') { await env.KV.put('k', url.searchParams.get('v'));\n"
      "    return new Response('ok'); }\n"
      "  const back = await (await env.BACK.fetch('http://back/')).text();\n"
      "  return new Response(String(await env.KV.get('k')) + ' / ' + back);\n"
      "} };\n");
  auto r = runCtl(*one, "deploy kv " + kvApp + " --route 'kv.test/*' --kv KV=sqlite:" +
                            (dir_.path() / "shared.sqlite").string() + " --service BACK=back");
  ASSERT_EQ(r.exitCode, 0) << r.out << one->output();
  EXPECT_EQ(query(postgres_.url(),
                  "SELECT v.definition->'storage'->'kv'->>'KV', v.definition->'services'->>'BACK' "
                  "FROM isolated_app_versions v JOIN isolated_apps a ON a.version_id = v.id "
                  "WHERE a.name = 'kv'"),
            "sqlite:" + (dir_.path() / "shared.sqlite").string() + "|back|\n");
  ASSERT_EQ(at(*one, "/put?v=from-one"), "ok");
  ASSERT_TRUE(eventually([&] { return at(*two, "/") == "from-one / back - -"; }, 8s))
      << at(*two, "/") << two->output();

  // A new version from the other server, naming no binding, keeps them everywhere.
  r = runCtl(*two, "deploy kv " + kvApp);
  ASSERT_EQ(r.exitCode, 0) << r.out << two->output();
  ASSERT_EQ(at(*two, "/put?v=from-two"), "ok");
  ASSERT_TRUE(eventually([&] { return at(*one, "/") == "from-two / back - -"; }, 8s))
      << at(*one, "/") << one->output();
}

TEST_F(RegistryTest, SecretsAreCiphertextInTheDatabaseYetReachTheApp) {
  auto one = startServer();
  auto two = startServer();
  // A server without a key may share a registry that holds no secrets...
  ServerProcess keyless("", {"--registry", postgres_.url(), "--workers", "1"});
  ASSERT_NE(keyless.waitReady(), 0) << keyless.output();
  std::string script = dir_.write("s.js", app("sec"));
  std::string secrets = dir_.write("secrets.json", R"({"TOKEN": "tok-9f8e7d"})");
  // ...but cannot deploy an app with secrets: nothing is written.
  auto r =
      runCtl(keyless, "deploy sec " + script + " --route 'sec.test/*' --secrets-file " + secrets);
  EXPECT_EQ(r.exitCode, 1) << r.out;
  EXPECT_NE(r.out.find("no --registry-key"), std::string::npos) << r.out;
  EXPECT_EQ(query(postgres_.url(), "SELECT count(*) FROM isolated_app_versions"), "0|\n");

  r = runCtl(*one, "deploy sec " + script + " --route 'sec.test/*' --secrets-file " + secrets);
  ASSERT_EQ(r.exitCode, 0) << r.out << one->output();
  EXPECT_EQ(bodyOf(*one, "sec.test"), "sec - tok-9f8e7d");
  ASSERT_TRUE(eventually([&] { return bodyOf(*two, "sec.test") == "sec - tok-9f8e7d"; }, 8s))
      << two->output();
  // The keyless server cannot open the version: it says so once and does not serve it.
  ASSERT_TRUE(keyless.waitForLine([](const std::string& l) {
    return l.find("registry app not applied") != std::string::npos &&
           l.find("no --registry-key") != std::string::npos;
  })) << keyless.output();
  EXPECT_EQ(get(keyless, "sec.test").status, 404);
  EXPECT_EQ(keyless.output().find("tok-9f8e7d"), std::string::npos);

  // New secrets deployed from the server that got the app from the registry replace the old.
  std::string rotated = dir_.write("rotated.json", R"({"TOKEN": "tok-rotated"})");
  r = runCtl(*two, "deploy sec " + script + " --secrets-file " + rotated);
  ASSERT_EQ(r.exitCode, 0) << r.out << two->output();
  EXPECT_EQ(bodyOf(*two, "sec.test"), "sec - tok-rotated");
  ASSERT_TRUE(eventually([&] { return bodyOf(*one, "sec.test") == "sec - tok-rotated"; }, 8s))
      << one->output();

  // Every column of every table, as a dump would show them: no plaintext secret.
  std::string rows;
  for (const char* table : {"isolated_apps", "isolated_app_versions", "isolated_app_modules"}) {
    rows += query(postgres_.url(), std::string("SELECT t::text FROM ") + table + " t");
  }
  EXPECT_EQ(rows.find("tok-9f8e7d"), std::string::npos) << rows;
  EXPECT_EQ(rows.find("tok-rotated"), std::string::npos) << rows;
  EXPECT_NE(rows.find("sec.test"), std::string::npos) << "the table was read: " << rows;
  EXPECT_EQ(query(postgres_.url(), "SELECT secrets IS NOT NULL FROM isolated_app_versions"),
            "t|\nt|\n");
  EXPECT_EQ(one->output().find("tok-9f8e7d"), std::string::npos);

  // A server without the key now refuses to start on this registry, saying why.
  ServerProcess refused("", {"--registry", postgres_.url(), "--workers", "1"});
  auto status = refused.waitExit();
  ASSERT_TRUE(status) << refused.output();
  EXPECT_EQ(WEXITSTATUS(*status), 1);
  EXPECT_NE(refused.output().find("no --registry-key"), std::string::npos) << refused.output();
}

TEST_F(RegistryTest, ARestartedServerReloadsItsAppsFromTheRegistry) {
  std::string script = dir_.write("r.js", app("reg"));
  {
    auto one = startServer();
    ASSERT_EQ(runCtl(*one, "deploy shop " + script + " --route 'shop.test/*'").exitCode, 0);
    ASSERT_EQ(runCtl(*one, "deploy clash " + script + " --route 'clash.test/*'").exitCode, 0);
  }
  std::filesystem::remove(script);  // the registry holds the text: the file is not needed

  // A config file beside the registry: a local app, and one of the registry's names (the
  // registry's version wins).
  std::string local = dir_.write("local.js", app("local"));
  std::string shadowed = dir_.write("shadow.js", app("from-file"));
  std::string config =
      dir_.write("isolated.toml",
                 "[[app]]\nname = \"mine\"\nscript = \"local.js\"\nroutes = [\"mine.test/*\"]\n"
                 "[[app]]\nname = \"shop\"\nscript = \"shadow.js\"\nroutes = [\"x.test/*\"]\n"
                 "[[app]]\nname = \"own\"\nscript = \"local.js\"\nroutes = [\"clash.test/*\"]\n");
  auto two = startServer({"--config", config});
  EXPECT_EQ(bodyOf(*two, "shop.test"), "reg - -");
  EXPECT_EQ(bodyOf(*two, "mine.test"), "local - -");
  EXPECT_EQ(get(*two, "x.test").status, 404);
  EXPECT_NE(two->output().find("replaces the config file's"), std::string::npos);
  // A registry app whose routes a local app holds is not served here; the local app is.
  EXPECT_EQ(bodyOf(*two, "clash.test"), "local - -");
  EXPECT_NE(two->output().find("registry app not served here"), std::string::npos) << two->output();
  // SIGHUP re-reads the file but leaves the registry's apps alone.
  two->signal(SIGHUP);
  ASSERT_TRUE(two->waitForLine([](const std::string& l) {
    return l.find("config reloaded") != std::string::npos;
  })) << two->output();
  EXPECT_EQ(bodyOf(*two, "shop.test"), "reg - -");
  // The local app is not the registry's: an undeploy of it touches only this server.
  auto r = runCtl(*two, "undeploy mine");
  ASSERT_EQ(r.exitCode, 0) << r.out;
  EXPECT_EQ(query(postgres_.url(), "SELECT name FROM isolated_apps ORDER BY name"),
            "clash|\nshop|\n");
}

TEST_F(RegistryTest, PostgresDownAtADeployIsAClearErrorAndTheOldVersionServes) {
  auto one = startServer();
  std::string v1 = dir_.write("v1.js", app("v1"));
  ASSERT_EQ(runCtl(*one, "deploy shop " + v1 + " --route 'shop.test/*'").exitCode, 0);
  ASSERT_TRUE(postgres_.stop());
  std::string v2 = dir_.write("v2.js", app("v2"));
  auto r = runCtl(*one, "deploy shop " + v2);
  EXPECT_EQ(r.exitCode, 1) << r.out;
  EXPECT_NE(r.out.find("the registry was not written"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PostgreSQL"), std::string::npos) << r.out;
  EXPECT_EQ(bodyOf(*one, "shop.test"), "v1 - -");
  r = runCtl(*one, "undeploy shop");
  EXPECT_EQ(r.exitCode, 1) << r.out;
  EXPECT_NE(r.out.find("keeps serving"), std::string::npos) << r.out;
  EXPECT_EQ(bodyOf(*one, "shop.test"), "v1 - -");
  EXPECT_TRUE(one->waitForLine([](const std::string& l) {
    return l.find("registry unreachable") != std::string::npos;
  })) << one->output();
  auto status = [&] {
    return nlohmann::json::parse(runCtl(*one, "--json status").out, nullptr, false)
        .value("status", nlohmann::json::object());
  };
  EXPECT_EQ(status().value("registry_reachable", true), false) << status().dump();

  // Back up: the listener reconnects and deploys are written again.
  ASSERT_TRUE(postgres_.start());
  ASSERT_TRUE(one->waitForLine(
      [](const std::string& l) { return l.find("registry reachable again") != std::string::npos; },
      30s))
      << one->output();
  ASSERT_TRUE(eventually([&] { return runCtl(*one, "deploy shop " + v2).exitCode == 0; }, 20s))
      << one->output();
  EXPECT_EQ(bodyOf(*one, "shop.test"), "v2 - -");
  EXPECT_EQ(status().value("registry_reachable", false), true) << status().dump();
  EXPECT_EQ(status().value("registry_listening", false), true) << status().dump();
  EXPECT_NE(status().value("registry", "").find("/postgres"), std::string::npos);
}

TEST_F(RegistryTest, AVersionFromAnotherServerSwitchesWithoutAFailedRequest) {
  auto one = startServer();
  auto two = startServer({"--workers", "2"});
  std::string v1 = dir_.write("v1.js", app("v1"));
  ASSERT_EQ(runCtl(*one, "deploy shop " + v1 + " --route 'shop.test/*'").exitCode, 0);
  ASSERT_TRUE(eventually([&] { return bodyOf(*two, "shop.test") == "v1 - -"; }, 8s));

  // Load on the second server while the first deploys a new version.
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0};
  std::atomic<int> sawV2{0};
  std::mutex mutex;
  std::map<std::string, int> failures;
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&] {
      while (!stop) {
        auto r = get(*two, "shop.test");
        if (r.status == 200 && (r.body == "v1 - -" || r.body == "v2 - -")) {
          ++ok;
          if (r.body == "v2 - -") ++sawV2;
        } else {
          std::lock_guard lock(mutex);
          ++failures[std::to_string(r.status) + " " + r.body];
        }
      }
    });
  }
  ASSERT_TRUE(eventually([&] { return ok > 50; }));
  std::string v2 = dir_.write("v2.js", app("v2"));
  ASSERT_EQ(runCtl(*one, "deploy shop " + v2).exitCode, 0);
  bool switched = eventually([&] { return sawV2 > 50; });
  stop = true;
  for (auto& t : threads)
    t.join();
  EXPECT_TRUE(switched) << two->output();
  std::string described;
  for (const auto& [what, count] : failures)
    described += what + " x" + std::to_string(count) + "; ";
  EXPECT_TRUE(failures.empty()) << described << two->output();
}

TEST_F(RegistryTest, TheCurrentVersionIsFollowedWithOrWithoutANotification) {
  auto one = startServer();
  std::string v1 = dir_.write("v1.js", app("v1"));
  std::string v2 = dir_.write("v2.js", app("v2"));
  ASSERT_EQ(runCtl(*one, "deploy shop " + v1 + " --route 'shop.test/*'").exitCode, 0);
  ASSERT_EQ(runCtl(*one, "deploy shop " + v2).exitCode, 0);
  std::string first = query(postgres_.url(), "SELECT min(id) FROM isolated_app_versions");
  first = first.substr(0, first.find('|'));

  // An operator's rollback by hand with a NOTIFY is applied at once...
  query(postgres_.url(), "UPDATE isolated_apps SET version_id = " + first +
                             "; NOTIFY isolated_registry, 'rollback'");
  ASSERT_TRUE(eventually([&] { return bodyOf(*one, "shop.test") == "v1 - -"; }, 5s))
      << one->output();
  // ...and one without (a lost notification) by the periodic re-read, within its 10 s.
  auto changed = Clock::now();
  query(postgres_.url(), "UPDATE isolated_apps SET version_id = " + first + " + 1");
  ASSERT_TRUE(eventually([&] { return bodyOf(*one, "shop.test") == "v2 - -"; }, 25s))
      << one->output();
  EXPECT_LT(Clock::now() - changed, 15s);
}

TEST_F(RegistryTest, AKeyFileOthersCanReadIsRefused) {
  ::chmod(keyPath_.c_str(), 0644);
  ServerProcess server("", registryArgs());
  auto status = server.waitExit();
  ASSERT_TRUE(status) << server.output();
  EXPECT_EQ(WEXITSTATUS(*status), 1);
  EXPECT_NE(server.output().find("readable or writable by every user"), std::string::npos)
      << server.output();
}

}  // namespace
}  // namespace isolated::test
