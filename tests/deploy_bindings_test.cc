// Integration tests of `isolated ctl deploy` with bindings (--kv, --database, --storage,
// --service) against the real binary serving a config file: a new app gets KV (a path relative
// to ctl's directory), SQL, object storage and a service binding to another app; a redeploy that
// names no binding keeps them, one that names a kind replaces that kind only; bad bindings are
// refused with exit 1 and a precise message while the old version keeps serving. Waits are for
// replies and log lines, never fixed sleeps.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/ctl_client.h"
#include "http_client.h"
#include "server_process.h"
#include "shell_command.h"
#include "temp_dir.h"

namespace isolated::test {
namespace {

using nlohmann::json;

// An app that keeps one value in env.KV, one object in env.BUCKET, one row in env.DB (each only
// if bound), and calls env.BACK; every answer starts with the version's label.
std::string storeApp(const std::string& label) {
  return "export default { async fetch(request, env) {\n"
         "  const url = new URL(request.url);\n"
         "  const v = url.searchParams.get('v');\n"
         "  const say = (text) => new Response('" +
         label +
         " ' + text);\n"
         "  switch (url.pathname) {\n"
         "    case '/kv/put': await env.KV.put('k', v); return say('ok');\n"
         "    case '/kv/get': return say(String(await env.KV.get('k')));\n"
         "    case '/r2/put': await env.BUCKET.put('o.txt', v); return say('ok');\n"
         "    case '/r2/get': { const o = await env.BUCKET.get('o.txt');\n"
         "      return say(o === null ? 'null' : await o.text()); }\n"
         "    case '/db': { await env.DB.exec('CREATE TABLE IF NOT EXISTS t (x TEXT)');\n"
         "      await env.DB.prepare('INSERT INTO t VALUES (?)').bind(v).run();\n"
         "      const row = await env.DB.prepare('SELECT count(*) AS n FROM t').first();\n"
         "      return say(String(row.n)); }\n"
         "    case '/back': return say(await (await env.BACK.fetch('http://back/x')).text());\n"
         "    case '/env': return say(['KV', 'DB', 'BUCKET', 'BACK'].filter((n) => n in env)"
         ".join(','));\n"
         "  }\n"
         "  return say('no route');\n"
         "} };\n";
}

class CtlDeployBindings : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("back.js",
               "export default { fetch(request) {\n"
               "  return new Response('back saw ' + new URL(request.url).pathname);\n"
               "} };\n");
    config_ = dir_.write("isolated.toml",
                         "[server]\nworkers = 2\n"
                         "[[app]]\nname = \"back\"\nscript = \"back.js\"\n"
                         "routes = [\"back.test/*\"]\n");
    server_ = std::make_unique<ServerProcess>("", std::vector<std::string>{"--config", config_});
    ASSERT_NE(server_->waitReady(), 0) << server_->output();
  }

  // `isolated ctl ARGS` run from `cwd` (the temporary directory by default).
  // `ctl ARGS`, run in the test's directory unless CWD is given (relative paths resolve there).
  CommandResult ctl(const std::string& args, const std::string& cwd = "") {
    return runCtl(*server_, args, cwd.empty() ? dir_.path().string() : cwd);
  }

  // The body of GET `path` on app `name` (host NAME.test), or the status when it is not 200.
  std::string get(const std::string& name, const std::string& path) {
    auto r = httpRequest("GET", server_->baseUrl() + path, {}, {{"Host", name + ".test"}});
    return r.status == 200 ? r.body : std::to_string(r.status) + " " + r.body;
  }

  json appNamed(const std::string& name) {
    auto r = ctl("--json apps");
    json reply = json::parse(r.out, nullptr, false);
    if (!reply.is_object()) return json::object();
    for (const auto& app : reply.value("apps", json::array())) {
      if (app.value("name", "") == name) return app;
    }
    return json::object();
  }

  std::string path(const std::string& relative) const { return (dir_.path() / relative).string(); }

  TempDir dir_;
  std::string config_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(CtlDeployBindings, ANewAppGetsItsStorageAndServiceBindings) {
  std::string v1 = dir_.write("n1.js", storeApp("v1"));
  std::filesystem::create_directory(path("work"));
  // KV and the database relative to ctl's directory (`work`), storage absolute.
  auto r = ctl("deploy n " + v1 +
                   " --route 'n.test/*' --kv KV=sqlite:kv.sqlite --database DB=db.sqlite"
                   " --storage BUCKET=file:" +
                   path("files") + " --service BACK=back",
               path("work"));
  ASSERT_EQ(r.exitCode, 0) << r.out << server_->output();
  EXPECT_EQ(get("n", "/env"), "v1 KV,DB,BUCKET,BACK");
  EXPECT_EQ(get("n", "/kv/put?v=hello"), "v1 ok");
  EXPECT_EQ(get("n", "/kv/get"), "v1 hello");
  EXPECT_EQ(get("n", "/r2/put?v=object"), "v1 ok");
  EXPECT_EQ(get("n", "/r2/get"), "v1 object");
  EXPECT_EQ(get("n", "/db?v=row"), "v1 1");
  EXPECT_EQ(get("n", "/back"), "v1 back saw /x");
  // The files are where ctl's directory says, not the server's.
  EXPECT_TRUE(std::filesystem::exists(path("work/kv.sqlite")));
  EXPECT_TRUE(std::filesystem::exists(path("work/db.sqlite")));
  EXPECT_TRUE(std::filesystem::exists(path("files/o.txt")));
}

TEST_F(CtlDeployBindings, ARedeployKeepsBindingsItDoesNotNameAndReplacesAKindItNames) {
  std::string v1 = dir_.write("n1.js", storeApp("v1"));
  auto r = ctl("deploy n " + v1 + " --route 'n.test/*' --kv KV=sqlite:" + path("one.sqlite") +
               " --storage BUCKET=file:" + path("files") + " --service BACK=back");
  ASSERT_EQ(r.exitCode, 0) << r.out << server_->output();
  ASSERT_EQ(get("n", "/kv/put?v=kept"), "v1 ok");
  ASSERT_EQ(get("n", "/r2/put?v=object"), "v1 ok");

  // No binding flag: the new version has every binding of the old one.
  std::string v2 = dir_.write("n2.js", storeApp("v2"));
  r = ctl("deploy n " + v2);
  ASSERT_EQ(r.exitCode, 0) << r.out;
  EXPECT_EQ(get("n", "/env"), "v2 KV,BUCKET,BACK");
  EXPECT_EQ(get("n", "/kv/get"), "v2 kept");
  EXPECT_EQ(get("n", "/r2/get"), "v2 object");
  EXPECT_EQ(get("n", "/back"), "v2 back saw /x");

  // --kv replaces the KV bindings (a new, empty store) and keeps storage and services; --database
  // adds the first database.
  std::string v3 = dir_.write("n3.js", storeApp("v3"));
  r = ctl("deploy n " + v3 + " --kv KV=" + path("two.sqlite") +
          " --database DB=" + path("db.sqlite"));
  ASSERT_EQ(r.exitCode, 0) << r.out;
  EXPECT_EQ(get("n", "/env"), "v3 KV,DB,BUCKET,BACK");
  EXPECT_EQ(get("n", "/kv/get"), "v3 null");
  EXPECT_EQ(get("n", "/r2/get"), "v3 object");
  EXPECT_EQ(get("n", "/db?v=x"), "v3 1");
  EXPECT_EQ(appNamed("n").value("version", 0), 3);
}

TEST_F(CtlDeployBindings, BadBindingsAreRefusedAndTheOldVersionKeepsServing) {
  std::string v1 = dir_.write("n1.js", storeApp("v1"));
  auto r = ctl("deploy n " + v1 +
               " --route 'n.test/*' --var GREETING=hi --kv KV=sqlite:" + path("kv.sqlite"));
  ASSERT_EQ(r.exitCode, 0) << r.out << server_->output();
  ASSERT_EQ(get("n", "/kv/put?v=safe"), "v1 ok");

  std::string v2 = dir_.write("n2.js", storeApp("v2"));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--kv KV=ftp://host/x", "--kv KV: unknown URL scheme in \"ftp://host/x\""},
      {"--kv 'not-valid=x.db'", "--kv: \"not-valid\" is not a JavaScript identifier"},
      {"--kv KV=file:" + path("d"), "--kv KV: a directory (file:) serves only --storage"},
      {"--storage B=sqlite:" + path("x.db"), "--storage B: object storage needs a directory"},
      {"--database D=", "--database expects NAME=URL"},
      {"--service B=nobody", "--service B names the app 'nobody', which this server does not have"},
      {"--service 'B=not an app'", "is not a valid app name"},
      {"--kv GREETING=" + path("g.db"), "kv binding GREETING: the name is already used"},
      {"--kv KV=" + path("x.db") + " --kv KV=" + path("y.db"), "--kv KV is given twice"},
      {"--kv KV=" + path("no/such/dir/kv.sqlite"),
       "kv binding KV: cannot open the SQLite database"},
  };
  for (const auto& [flags, expected] : cases) {
    r = ctl("deploy n " + v2 + " " + flags);
    EXPECT_EQ(r.exitCode, 1) << flags << "\n" << r.out;
    EXPECT_NE(r.out.find(expected), std::string::npos) << flags << "\n" << r.out;
  }
  // Still version 1, with its KV data.
  EXPECT_EQ(appNamed("n").value("version", 0), 1);
  EXPECT_EQ(get("n", "/kv/get"), "v1 safe");

  // A new app with a bad binding leaves no trace.
  r = ctl("deploy m " + v2 + " --route 'm.test/*' --service B=nobody");
  EXPECT_EQ(r.exitCode, 1) << r.out;
  EXPECT_TRUE(appNamed("m").empty());
  EXPECT_EQ(get("m", "/env").substr(0, 3), "404");
  // The binding flags belong to deploy.
  r = ctl("status --kv KV=x.db");
  EXPECT_EQ(r.exitCode, 2) << r.out;
}

TEST_F(CtlDeployBindings, AJsonClientsRelativePathIsRefused) {
  std::string v1 = dir_.write("n1.js", storeApp("v1"));
  // Through the protocol directly (ctl would have made the path absolute).
  std::string request = json{{"cmd", "deploy"},
                             {"name", "n"},
                             {"script", v1},
                             {"routes", json::array({"n.test/*"})},
                             {"kv", json::array({"KV=relative.sqlite"})}}
                            .dump();
  std::string error;
  auto client = ControlClient::tryConnect(server_->controlSocket(), 10s, error);
  ASSERT_TRUE(client) << error;
  auto line = client->tryExchange(request, 60s, error);
  ASSERT_TRUE(line) << error;
  std::string out = *line;
  json reply = json::parse(out, nullptr, false);
  ASSERT_TRUE(reply.is_object()) << out;
  EXPECT_EQ(reply.value("ok", true), false) << out;
  EXPECT_NE(reply.value("error", "").find("is relative; give an absolute path"), std::string::npos)
      << out;
}

}  // namespace
}  // namespace isolated::test
