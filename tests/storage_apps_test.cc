// Integration tests of per-app storage bindings ([[app]] kv, databases and storage keys), KV
// and SQL on a real PostgreSQL (started by the suite) shared by two servers, a backend that is
// down, and bindings refused at start, through the real `isolated serve` on port 0
// (tests/storage_fixture.h).
#include "storage_fixture.h"

namespace isolated::test {
namespace {

using nlohmann::json;

// ---- Per app: [[app]] tables with kv, databases and storage keys ----

TEST(StoragePerApp, EachAppHasItsOwnBindingsWithPathsRelativeToTheFile) {
  TwoApps server(
      "kv = { KV = \"sqlite:one-kv.db\" }\ndatabases = { DB = \"one.sqlite\" }\n"
      "storage = { BUCKET = \"file:one-bucket\" }",
      "kv = { KV = \"sqlite:two-kv.db\" }\nstorage = { BUCKET = \"file:two-bucket\" }");
  ASSERT_TRUE(server.ready()) << server.process().output();
  ASSERT_EQ(server.request("one", "POST", "/kv/put?k=who", "app one").status, 200);
  ASSERT_EQ(server.request("two", "POST", "/kv/put?k=who", "app two").status, 200);
  ASSERT_EQ(server.request("one", "POST", "/kv/put?k=only-one", "1").status, 200);
  EXPECT_EQ(server.getJson("one", "/kv/get?k=who")["value"], "app one");
  EXPECT_EQ(server.getJson("two", "/kv/get?k=who")["value"], "app two");
  // Two KV namespaces: neither app sees the other's keys.
  EXPECT_TRUE(server.getJson("two", "/kv/get?k=only-one")["value"].is_null());
  auto keys = server.getJson("two", "/kv/list")["keys"];
  ASSERT_EQ(keys.size(), 1u) << keys;
  EXPECT_EQ(keys[0]["name"], "who");
  // The files are where the config file says, relative to its directory.
  EXPECT_TRUE(std::filesystem::exists(server.dir() + "/one-kv.db"));
  EXPECT_TRUE(std::filesystem::exists(server.dir() + "/two-kv.db"));
  ASSERT_EQ(server.request("one", "POST", "/r2/put?k=f.txt", "in one").status, 200);
  EXPECT_TRUE(std::filesystem::exists(server.dir() + "/one-bucket/f.txt"));
  EXPECT_FALSE(std::filesystem::exists(server.dir() + "/two-bucket/f.txt"));
  EXPECT_EQ(server.request("two", "GET", "/r2/get?k=f.txt").status, 404);
  // App two has no DB: env.DB is undefined there, a TypeError in the script.
  auto created = server.request("one", "POST", "/db/exec",
                                json({{"sql", "CREATE TABLE t (x INTEGER)"}}).dump());
  EXPECT_EQ(created.status, 200) << created.body;
  auto missing = server.request("two", "POST", "/db/exec",
                                json({{"sql", "CREATE TABLE t (x INTEGER)"}}).dump());
  EXPECT_EQ(missing.status, 500) << missing.body;
}

TEST(StoragePerApp, ACallForABindingTheAppDoesNotHaveIsRefused) {
  // App two has a binding named SECRET on its own file; app one forges a KV object by that
  // name. The supervisor checks bindings per app: the call is refused, nothing is read.
  TwoApps server("kv = { KV = \"sqlite:one.db\" }",
                 "kv = { KV = \"sqlite:two.db\", SECRET = \"sqlite:secret.db\" }");
  ASSERT_TRUE(server.ready()) << server.process().output();
  ASSERT_EQ(server.request("two", "GET", "/kv/forge?name=SECRET&k=x").status, 200)
      << "the owner may use its binding";
  auto forged = server.getJson("one", "/kv/forge?name=SECRET&k=x");
  EXPECT_EQ(forged["status"], 500) << forged;
  EXPECT_NE(forged["error"].get<std::string>().find("no storage binding named \"SECRET\""),
            std::string::npos)
      << forged;
  // The app goes on serving.
  EXPECT_EQ(server.request("one", "GET", "/").body, "hello");
}

TEST(StoragePerApp, TheSameUrlAndNameIsSharedBetweenApps) {
  TwoApps server("kv = { KV = \"sqlite:shared.db\" }", "kv = { KV = \"sqlite:shared.db\" }");
  ASSERT_TRUE(server.ready()) << server.process().output();
  ASSERT_EQ(server.request("one", "POST", "/kv/put?k=common", "from one").status, 200);
  EXPECT_EQ(server.getJson("two", "/kv/get?k=common")["value"], "from one");
}

TEST(StoragePerApp, BadBindingKeysAreStartupErrorsNamingTheLine) {
  for (const auto& [table, expected] : std::vector<std::pair<std::string, std::string>>{
           {"kv = { KV = \"file:x\" }", "a directory (file:) serves only --storage"},
           {"storage = { B = \"sqlite:x.db\" }", "object storage needs a directory"},
           {"kv = { \"not valid\" = \"x.db\" }", "is not a valid binding name"},
           {"kv = { GREETING = \"x.db\" }\nvars = { GREETING = \"hi\" }",
            "already used in the app's env"},
           {"services = { OTHER = \"nobody\" }", "which this file does not describe"},
           {"databases = \"x.db\"", "expected a table"}}) {
    TwoApps server(table, "");
    EXPECT_FALSE(server.ready()) << table;
    EXPECT_NE(server.process().output().find(expected), std::string::npos)
        << table << "\n"
        << server.process().output();
    EXPECT_NE(server.process().output().find("isolated.toml:"), std::string::npos);
  }
}

// ---- PostgreSQL ----

class StoragePostgres : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new PostgresServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    if (!server_->available()) GTEST_SKIP() << server_->error();
  }
  static PostgresServer* server_;
};
PostgresServer* StoragePostgres::server_ = nullptr;

TEST_F(StoragePostgres, TwoServersSeeEachOthersWrites) {
  std::vector<std::string> flags = {"--kv", "KV=" + server_->url(), "--database",
                                    "DB=" + server_->url()};
  StorageServer one(flags);
  StorageServer two(flags);
  ASSERT_TRUE(one.ready()) << one.process().output();
  ASSERT_TRUE(two.ready()) << two.process().output();
  ASSERT_EQ(
      one.post("/kv/put?k=shared&meta=" + escape(R"({"from":"one"})"), "written by one").status,
      200);
  EXPECT_EQ(two.getJson("/kv/get?k=shared")["value"], "written by one");
  EXPECT_EQ(two.getJson("/kv/meta?k=shared")["metadata"], json({{"from", "one"}}));
  ASSERT_EQ(two.get("/kv/delete?k=shared").status, 200);
  EXPECT_TRUE(one.getJson("/kv/get?k=shared")["value"].is_null());
  // Expiry on PostgreSQL too.
  ASSERT_EQ(one.post("/kv/put?k=brief&ttl=1", "soon gone").status, 200);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  json value = "x";
  while (!value.is_null() && std::chrono::steady_clock::now() < deadline) {
    value = two.getJson("/kv/get?k=brief")["value"];
    if (!value.is_null()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(value.is_null());

  // The SQL binding runs on PostgreSQL itself; `?` placeholders are mapped to $n.
  one.postJson("/db/exec", {{"sql", "DROP TABLE IF EXISTS pg_people"}});
  exerciseDatabase(one, "pg_people");
  auto seen = two.postJson("/db/all",
                           {{"sql", "SELECT name FROM pg_people WHERE id = ?"}, {"params", {1}}});
  EXPECT_EQ(seen["results"], json::parse(R"([{"name":"ada"}])")) << seen;
  // Its own dialect: an error is PostgreSQL's message.
  auto error = one.postJson("/db/all", {{"sql", "SELECT 1 FROM pg_people LIMIT 'x'"}});
  EXPECT_NE(error["error"].get<std::string>().find("invalid input syntax"), std::string::npos)
      << error;
}

TEST_F(StoragePostgres, AppsOfTwoServersShareByUrlAndName) {
  // Per app, in config files: app one of both servers names the same PostgreSQL and binding
  // name (shared); app two uses another binding name on it (a namespace of its own).
  std::string url = server_->url();
  TwoApps first("kv = { KV = \"" + url + "\" }\ndatabases = { DB = \"" + url + "\" }",
                "kv = { OTHER = \"" + url + "\", KV = \"sqlite:two.db\" }");
  TwoApps second("kv = { KV = \"" + url + "\" }", "kv = { KV = \"sqlite:two.db\" }");
  ASSERT_TRUE(first.ready()) << first.process().output();
  ASSERT_TRUE(second.ready()) << second.process().output();
  ASSERT_EQ(first.request("one", "POST", "/kv/put?k=per-app", "shared by url").status, 200);
  EXPECT_EQ(second.getJson("one", "/kv/get?k=per-app")["value"], "shared by url");
  EXPECT_TRUE(first.getJson("two", "/kv/get?k=per-app")["value"].is_null());
  EXPECT_TRUE(second.getJson("two", "/kv/get?k=per-app")["value"].is_null());
  auto other = first.getJson("two", "/kv/forge?name=OTHER&k=per-app");
  EXPECT_TRUE(other["value"].is_null()) << other;
  first.request("one", "POST", "/db/exec", json({{"sql", "DROP TABLE IF EXISTS per_app"}}).dump());
  auto created = first.request("one", "POST", "/db/exec",
                               json({{"sql", "CREATE TABLE per_app (x INTEGER)"}}).dump());
  EXPECT_EQ(created.status, 200) << created.body;
}

TEST_F(StoragePostgres, ManyWorkersWritingOneKey) {
  StorageServer server({"--kv", "KV=" + server_->url(), "--workers", "3"});
  ASSERT_TRUE(server.ready());
  std::vector<std::thread> clients;
  std::atomic<int> failures{0};
  for (int c = 0; c < 6; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < 10; ++i) {
        if (server.post("/kv/put?k=pg-hot", std::to_string(c) + "-" + std::to_string(i)).status !=
            200) {
          ++failures;
        }
      }
    });
  }
  for (auto& client : clients)
    client.join();
  EXPECT_EQ(failures.load(), 0);
  std::string value = server.getJson("/kv/get?k=pg-hot")["value"];
  EXPECT_EQ(value.substr(value.find('-')), "-9") << value;
}

TEST(StorageDown, APostgresqlThatIsDownGivesAClearErrorAndALogLine) {
  TempDir nowhere;  // a socket directory where no server listens
  StorageServer server(
      {"--kv", "KV=postgresql://isolated@/postgres?host=" + nowhere.path().string()});
  ASSERT_TRUE(server.ready()) << server.process().output();
  auto started = std::chrono::steady_clock::now();
  auto result = server.get("/kv/get?k=x");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  EXPECT_EQ(result.status, 500);
  EXPECT_NE(result.body.find("PostgreSQL: cannot connect"), std::string::npos) << result.body;
  EXPECT_TRUE(server.process().waitForLine([](const std::string& line) {
    return line.find("storage backend failed") != std::string::npos &&
           line.find("binding=KV") != std::string::npos;
  }));
  // The server still serves.
  EXPECT_EQ(server.get("/").body, "hello");
}

TEST(StorageConfig, BadBindingsAreRefusedAtStart) {
  TempDir dir;
  for (auto flags : std::vector<std::vector<std::string>>{
           {"--kv", "not an identifier=" + dir.path().string() + "/kv.sqlite"},
           {"--storage", "B=sqlite:" + dir.path().string() + "/x"},
           {"--kv", "KV=mysql://localhost/x"},
           {"--kv", "KV=" + dir.path().string() + "/no/such/dir/kv.sqlite"}}) {
    ServerProcess server(kScripts + "/storage.js", flags);
    EXPECT_EQ(server.waitReady(std::chrono::seconds(10)), 0) << flags[1];
  }
}

}  // namespace
}  // namespace isolated::test
