// Integration tests of the storage bindings through the real `isolated serve` on port 0: KV,
// SQL database and object storage on SQLite and a directory, KV and SQL on a real PostgreSQL
// (started by the suite) shared by two servers, expiry, a backend that is down, many workers
// writing one key, limits, and the bindings as service-worker globals.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "http_client.h"
#include "postgres_server.h"
#include "sanitizer.h"
#include "server_process.h"
#include "shell_command.h"

namespace isolated::test {
namespace {

using nlohmann::json;

const std::string kScripts = ISOLATED_TEST_SCRIPTS;

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/isolated-storage-it-XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string escape(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char buffer[4];
      std::snprintf(buffer, sizeof buffer, "%%%02X", c);
      out += buffer;
    }
  }
  return out;
}

// A server for tests/scripts/storage.js with the given binding flags.
class StorageServer {
 public:
  explicit StorageServer(std::vector<std::string> flags, const std::string& script = "storage.js")
      : server_(kScripts + "/" + script, withWorkers(std::move(flags))) {
    port_ = server_.waitReady();
  }
  bool ready() const { return port_ != 0; }
  ServerProcess& process() { return server_; }
  HttpResult get(const std::string& path) { return httpGet(server_.baseUrl() + path); }
  HttpResult post(const std::string& path, const std::string& body) {
    return httpRequest("POST", server_.baseUrl() + path, body);
  }
  json getJson(const std::string& path) { return parse(get(path)); }
  // The script's error message of a failed operation (routes answer 500 with {error}).
  static std::string parseError(const HttpResult& result) {
    auto parsed = json::parse(result.body, nullptr, false);
    if (parsed.is_object() && parsed.contains("error")) return parsed["error"];
    return "status " + std::to_string(result.status) + ": " + result.body;
  }
  json postJson(const std::string& path, const json& body) {
    return parse(post(path, body.dump()));
  }
  // KV key `key`'s value once it has one (written by waitUntil() work), or null after `limit`.
  json awaitValue(const std::string& key, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    json value;
    while (std::chrono::steady_clock::now() < deadline) {
      value = getJson("/kv/get?k=" + key)["value"];
      if (!value.is_null()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return value;
  }

 private:
  static std::vector<std::string> withWorkers(std::vector<std::string> flags) {
    bool hasWorkers = false;
    for (const auto& flag : flags)
      hasWorkers |= flag == "--workers";
    if (!hasWorkers) {
      flags.push_back("--workers");
      flags.push_back("1");
    }
    return flags;
  }
  static json parse(const HttpResult& result) {
    auto parsed = json::parse(result.body, nullptr, false);
    if (parsed.is_discarded()) return json{{"status", result.status}, {"raw", result.body}};
    if (result.status != 200) parsed["status"] = result.status;
    return parsed;
  }
  ServerProcess server_;
  uint16_t port_ = 0;
};

// ---- KV on SQLite ----

TEST(StorageKv, OperationsOnSqlite) {
  TempDir dir;
  StorageServer server({"--kv", "KV=" + dir.path() + "/kv.sqlite"});
  ASSERT_TRUE(server.ready()) << server.process().output();
  EXPECT_EQ(server.post("/kv/put?k=a%2F1&meta=" + escape(R"({"n":1})"), "one").status, 200);
  EXPECT_EQ(server.post("/kv/put?k=a%2F2", R"({"x":[1,2]})").status, 200);
  EXPECT_EQ(server.post("/kv/put?k=b", "bee").status, 200);
  EXPECT_EQ(server.getJson("/kv/get?k=a%2F1")["value"], "one");
  EXPECT_EQ(server.getJson("/kv/get?k=a%2F2&type=json")["value"], json::parse(R"({"x":[1,2]})"));
  EXPECT_EQ(server.getJson("/kv/get?k=b&type=arrayBuffer")["value"], json::array({98, 101, 101}));
  EXPECT_EQ(server.getJson("/kv/get?k=b&type=stream")["value"], "bee");
  EXPECT_TRUE(server.getJson("/kv/get?k=missing")["value"].is_null());
  auto meta = server.getJson("/kv/meta?k=a%2F1");
  EXPECT_EQ(meta["value"], "one");
  EXPECT_EQ(meta["metadata"], json({{"n", 1}}));
  auto many = server.getJson("/kv/many?k=b&k=missing");
  EXPECT_EQ(many, json({{"b", "bee"}, {"missing", nullptr}}));

  auto page = server.getJson("/kv/list?prefix=a%2F&limit=1");
  ASSERT_EQ(page["keys"].size(), 1u) << page;
  EXPECT_EQ(page["keys"][0]["name"], "a/1");
  EXPECT_EQ(page["keys"][0]["metadata"], json({{"n", 1}}));
  EXPECT_EQ(page["list_complete"], false);
  auto rest = server.getJson("/kv/list?prefix=a%2F&limit=1&cursor=" +
                             escape(page["cursor"].get<std::string>()));
  ASSERT_EQ(rest["keys"].size(), 1u);
  EXPECT_EQ(rest["keys"][0]["name"], "a/2");
  EXPECT_EQ(rest["list_complete"], true);

  EXPECT_EQ(server.get("/kv/delete?k=b").status, 200);
  EXPECT_TRUE(server.getJson("/kv/get?k=b")["value"].is_null());
  // A ReadableStream value.
  EXPECT_EQ(server.post("/kv/put?k=s&stream=1", "streamed value").status, 200);
  EXPECT_EQ(server.getJson("/kv/get?k=s")["value"], "streamed value");
}

TEST(StorageKv, TheLargestValueRoundTripsAndALargerOneIsRefused) {
  TempDir dir;
  // Handling 25 MiB bodies in JavaScript takes more than the default 50 ms of CPU.
  StorageServer server(isolated::testing::withMemoryHeadroomUnderSanitizer(
      {"--kv", "KV=" + dir.path() + "/kv.sqlite", "--cpu-limit", "5000"}));
  ASSERT_TRUE(server.ready());
  std::string largest(25u << 20, 'v');
  largest.back() = 'e';
  auto put = server.post("/kv/put?k=big", largest);
  ASSERT_EQ(put.status, 200) << put.body << server.process().output();
  auto value = server.get("/kv/get?k=big&type=stream");
  ASSERT_EQ(value.status, 200) << value.body << server.process().output();
  EXPECT_EQ(value.body.size(), largest.size() + std::string(R"({"value":""})").size());
  auto error = StorageServer::parseError(server.post("/kv/put?k=bigger", largest + "x"));
  EXPECT_NE(error.find("values are at most 25 MiB"), std::string::npos) << error;
}

TEST(StorageKv, ExpiredKeysDisappear) {
  TempDir dir;
  StorageServer server({"--kv", "KV=sqlite:" + dir.path() + "/kv.sqlite"});
  ASSERT_TRUE(server.ready());
  ASSERT_EQ(server.post("/kv/put?k=brief&ttl=1", "soon gone").status, 200);
  ASSERT_EQ(server.post("/kv/put?k=lasting&ttl=3600", "stays").status, 200);
  EXPECT_EQ(server.getJson("/kv/get?k=brief")["value"], "soon gone");
  // Expiry has a one-second resolution: wait for it, bounded.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  json value;
  do {
    value = server.getJson("/kv/get?k=brief")["value"];
    if (value.is_null()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_TRUE(value.is_null()) << "an expired key was still returned";
  auto list = server.getJson("/kv/list");
  ASSERT_EQ(list["keys"].size(), 1u) << list;
  EXPECT_EQ(list["keys"][0]["name"], "lasting");
  EXPECT_GT(list["keys"][0]["expiration"].get<int64_t>(), 0);
}

TEST(StorageKv, LimitsAreReportedToTheScript) {
  TempDir dir;
  StorageServer server({"--kv", "KV=" + dir.path() + "/kv.sqlite"});
  ASSERT_TRUE(server.ready());
  auto error = server.parseError(server.post("/kv/put?k=" + std::string(513, 'k'), "v"));
  EXPECT_NE(error.find("keys are at most 512 bytes"), std::string::npos) << error;
  error = server.parseError(
      server.post("/kv/put?k=m&meta=" + escape("\"" + std::string(1100, 'm') + "\""), "v"));
  EXPECT_NE(error.find("metadata is at most 1024 bytes"), std::string::npos) << error;
  error = server.parseError(server.get("/kv/list?limit=5000"));
  EXPECT_NE(error.find("at most 1000"), std::string::npos) << error;
}

TEST(StorageKv, WaitUntilWorkMayStillWrite) {
  TempDir dir;
  StorageServer server({"--kv", "KV=" + dir.path() + "/kv.sqlite"});
  ASSERT_TRUE(server.ready());
  ASSERT_EQ(server.get("/kv/later?k=late").status, 200);
  EXPECT_EQ(server.awaitValue("late", std::chrono::seconds(5)), "written later");
}

// The supervisor remembers only its most recent answers (RequestTracker::kRecentAnswers), so
// under load a request answered a moment ago drops out of them; its waitUntil() work must still
// reach storage (the Response said the work was pending: the request lingers).
TEST(StorageKv, WaitUntilWorkMayWriteAfterThousandsOfLaterAnswers) {
  TempDir dir;
  StorageServer server({"--kv", "KV=" + dir.path() + "/kv.sqlite"});
  ASSERT_TRUE(server.ready());
  ASSERT_EQ(server.get("/kv/held?k=held").status, 200);
  for (size_t i = 0; i < 4200; ++i) {
    ASSERT_EQ(server.get("/").status, 200) << i;
  }
  // The held request is kept as lingering (seen by operators too); the recent answers stay
  // within their bound.
  CommandResult status = runCtl(server.process(), "status --json");
  ASSERT_EQ(status.exitCode, 0) << status.out;
  json records = json::parse(status.out, nullptr, false)["status"]["request_records"];
  EXPECT_EQ(records.value("lingering", 0), 1) << status.out;
  EXPECT_LE(records.value("recent", 0), 4096) << status.out;
  ASSERT_EQ(server.get("/kv/release").status, 200);
  EXPECT_EQ(server.awaitValue("held", std::chrono::seconds(10)), "written when released");
  EXPECT_EQ(server.process().output().find("does not hold"), std::string::npos);
}

TEST(StorageKv, ManyWorkersWritingOneKey) {
  TempDir dir;
  StorageServer server({"--kv", "KV=" + dir.path() + "/kv.sqlite", "--workers", "4"});
  ASSERT_TRUE(server.ready());
  std::vector<std::thread> clients;
  std::atomic<int> failures{0};
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < 10; ++i) {
        auto result =
            server.post("/kv/put?k=hot", "c" + std::to_string(c) + "-" + std::to_string(i));
        if (result.status != 200) ++failures;
      }
    });
  }
  for (auto& client : clients)
    client.join();
  EXPECT_EQ(failures.load(), 0);
  std::string value = server.getJson("/kv/get?k=hot")["value"];
  EXPECT_EQ(value.substr(value.find('-')), "-9") << value;
}

TEST(StorageKv, ServiceWorkerScriptsSeeBindingsAsGlobals) {
  TempDir dir;
  StorageServer server({"--kv", "KV=" + dir.path() + "/kv.sqlite"}, "storage_classic.js");
  ASSERT_TRUE(server.ready()) << server.process().output();
  auto result = server.get("/");
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(result.body, "from a global binding");
}

TEST(StorageKv, TopLevelCodeIsRefusedAndTheWorkerServes) {
  TempDir dir;
  StorageServer server({"--kv", "KV=" + dir.path() + "/kv.sqlite"}, "storage_top_level.js");
  ASSERT_TRUE(server.ready()) << server.process().output();
  auto result = server.get("/");
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(result.body, "storage bindings can only be used while handling a request");
}

// ---- SQL on SQLite ----

void exerciseDatabase(StorageServer& server, const std::string& table) {
  auto created = server.postJson(
      "/db/exec", {{"sql", "CREATE TABLE " + table + " (id INTEGER PRIMARY KEY, name TEXT)"}});
  EXPECT_EQ(created["count"], 1) << created;
  auto run = server.postJson(
      "/db/run",
      {{"sql", "INSERT INTO " + table + " (id, name) VALUES (?, ?)"}, {"params", {1, "ada"}}});
  EXPECT_EQ(run["success"], true) << run;
  EXPECT_EQ(run["meta"]["changes"], 1);
  EXPECT_EQ(run["meta"]["rows_written"], 1);
  server.postJson("/db/run", {{"sql", "INSERT INTO " + table + " (id, name) VALUES (?, ?)"},
                              {"params", {2, "grace"}}});
  auto all =
      server.postJson("/db/all", {{"sql", "SELECT id, name FROM " + table + " ORDER BY id"}});
  EXPECT_EQ(all["results"], json::parse(R"([{"id":1,"name":"ada"},{"id":2,"name":"grace"}])"));
  EXPECT_TRUE(all["meta"].contains("duration"));
  auto first = server.postJson("/db/first", {{"sql", "SELECT name FROM " + table + " WHERE id = ?"},
                                             {"params", {2}},
                                             {"column", "name"}});
  EXPECT_EQ(first["value"], "grace");
  auto none = server.postJson(
      "/db/first", {{"sql", "SELECT name FROM " + table + " WHERE id = ?"}, {"params", {99}}});
  EXPECT_TRUE(none["value"].is_null());
  auto raw = server.postJson("/db/raw", {{"sql", "SELECT id, name FROM " + table + " ORDER BY id"},
                                         {"columnNames", true}});
  EXPECT_EQ(raw, json::parse(R"([["id","name"],[1,"ada"],[2,"grace"]])"));
  // A batch is one transaction: the duplicate key rolls back the first insert too.
  auto failed = server.postJson(
      "/db/batch",
      {{"statements",
        {{{"sql", "INSERT INTO " + table + " (id, name) VALUES (?, ?)"}, {"params", {3, "x"}}},
         {{"sql", "INSERT INTO " + table + " (id, name) VALUES (?, ?)"},
          {"params", {1, "dup"}}}}}});
  EXPECT_EQ(failed["status"], 500) << failed;
  auto count = server.postJson("/db/first", {{"sql", "SELECT count(*) AS n FROM " + table}});
  EXPECT_EQ(count["value"]["n"], 2) << count;
  auto batch = server.postJson(
      "/db/batch",
      {{"statements",
        {{{"sql", "INSERT INTO " + table + " (id, name) VALUES (?, ?)"}, {"params", {3, "x"}}},
         {{"sql", "SELECT count(*) AS n FROM " + table}}}}});
  ASSERT_TRUE(batch.is_array()) << batch;
  EXPECT_EQ(batch[1]["results"][0]["n"], 3);
  auto error = server.postJson("/db/all", {{"sql", "SELECT * FROM no_such_table"}});
  EXPECT_EQ(error["status"], 500);
  EXPECT_NE(error["error"].get<std::string>().find("no_such_table"), std::string::npos) << error;
}

TEST(StorageDatabase, OperationsOnSqlite) {
  TempDir dir;
  StorageServer server({"--database", "DB=sqlite:" + dir.path() + "/d1.sqlite"});
  ASSERT_TRUE(server.ready()) << server.process().output();
  exerciseDatabase(server, "people");
}

// ---- objects in a directory ----

TEST(StorageObjects, OperationsOnADirectory) {
  TempDir dir;
  std::string bucket = dir.path() + "/bucket";
  StorageServer server({"--storage", "BUCKET=file:" + bucket});
  ASSERT_TRUE(server.ready()) << server.process().output();
  auto put = httpRequest("POST", server.process().baseUrl() + "/r2/put?k=docs%2Fa.txt", "alpha",
                         {{"content-type", "text/plain"}});
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(json::parse(put.body)["etag"], "2c1743a391305fbf367df8e4f069f9f9");  // md5("alpha")
  // The object is the plain file in the directory; nothing else is in the user's tree.
  std::ifstream file(bucket + "/docs/a.txt");
  std::string contents((std::istreambuf_iterator<char>(file)), {});
  EXPECT_EQ(contents, "alpha");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(bucket + "/docs"),
                          std::filesystem::directory_iterator()),
            1);
  server.post("/r2/put?k=docs%2Fb.txt", "beta");
  server.post("/r2/put?k=top.txt", "top");

  auto got = server.get("/r2/get?k=docs%2Fa.txt");
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, "alpha");
  EXPECT_EQ(got.headers["content-type"], "text/plain");
  EXPECT_EQ(got.headers["etag"], "\"2c1743a391305fbf367df8e4f069f9f9\"");
  EXPECT_EQ(json::parse(got.headers["x-custom"]), json({{"by", "test"}}));
  auto head = server.getJson("/r2/head?k=docs%2Fb.txt");
  EXPECT_EQ(head["size"], 4);
  EXPECT_TRUE(server.getJson("/r2/head?k=nope").is_null());
  EXPECT_EQ(server.get("/r2/get?k=nope").status, 404);

  auto folders = server.getJson("/r2/list?delimiter=%2F");
  EXPECT_EQ(folders["delimitedPrefixes"], json::array({"docs/"}));
  EXPECT_EQ(folders["keys"], json::array({"top.txt"}));
  auto page = server.getJson("/r2/list?prefix=docs%2F&limit=1");
  EXPECT_EQ(page["keys"], json::array({"docs/a.txt"}));
  EXPECT_EQ(page["truncated"], true);
  auto next = server.getJson("/r2/list?prefix=docs%2F&limit=1&cursor=" +
                             escape(page["cursor"].get<std::string>()));
  EXPECT_EQ(next["keys"], json::array({"docs/b.txt"}));
  EXPECT_EQ(next["truncated"], false);

  EXPECT_EQ(server.get("/r2/delete?k=docs%2Fa.txt&k=top.txt").status, 200);
  EXPECT_FALSE(std::filesystem::exists(bucket + "/docs/a.txt"));
  EXPECT_EQ(server.getJson("/r2/list")["keys"], json::array({"docs/b.txt"}));

  // Keys that would leave the directory are refused with a message that says so.
  auto escape1 = server.post("/r2/put?k=..%2Foutside.txt", "x");
  EXPECT_EQ(escape1.status, 500);
  EXPECT_NE(escape1.body.find("not a safe relative path"), std::string::npos) << escape1.body;
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/outside.txt"));
  auto absolute = server.post("/r2/put?k=%2Fetc%2Fx", "x");
  EXPECT_NE(absolute.body.find("absolute path"), std::string::npos) << absolute.body;
}

// ---- Per app: [[app]] tables with kv, databases and storage keys ----

// A server of two apps running storage.js, "one" (host one.test) and "two" (host two.test),
// whose [[app]] tables add `one` and `two` (TOML lines).
class TwoApps {
 public:
  TwoApps(const std::string& one, const std::string& two, std::vector<std::string> flags = {})
      : config_(write(dir_.path() + "/isolated.toml",
                      "[[app]]\nname = \"one\"\nscript = \"" + kScripts +
                          "/storage.js\"\nroutes = [\"one.test/*\"]\n" + one +
                          "\n\n[[app]]\nname = \"two\"\nscript = \"" + kScripts +
                          "/storage.js\"\nroutes = [\"two.test/*\"]\n" + two + "\n")),
        server_("", withConfig(std::move(flags), config_)) {
    port_ = server_.waitReady();
  }
  bool ready() const { return port_ != 0; }
  const std::string& dir() const { return dir_.path(); }
  ServerProcess& process() { return server_; }
  HttpResult request(const std::string& app, const std::string& method, const std::string& path,
                     const std::string& body = "") {
    return httpRequest(method, server_.baseUrl() + path, body, {{"Host", app + ".test"}});
  }
  json getJson(const std::string& app, const std::string& path) {
    auto result = request(app, "GET", path);
    auto parsed = json::parse(result.body, nullptr, false);
    if (parsed.is_discarded()) return json{{"status", result.status}, {"raw", result.body}};
    if (result.status != 200) parsed["status"] = result.status;
    return parsed;
  }

 private:
  static std::string write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
    return path;
  }
  static std::vector<std::string> withConfig(std::vector<std::string> flags,
                                             const std::string& config) {
    flags.insert(flags.end(), {"--config", config, "--workers", "2"});
    return flags;
  }
  TempDir dir_;
  std::string config_;
  ServerProcess server_;
  uint16_t port_ = 0;
};

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
  StorageServer server({"--kv", "KV=postgresql://isolated@/postgres?host=" + nowhere.path()});
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
           {"--kv", "not an identifier=" + dir.path() + "/kv.sqlite"},
           {"--storage", "B=sqlite:" + dir.path() + "/x"},
           {"--kv", "KV=mysql://localhost/x"},
           {"--kv", "KV=" + dir.path() + "/no/such/dir/kv.sqlite"}}) {
    ServerProcess server(kScripts + "/storage.js", flags);
    EXPECT_EQ(server.waitReady(std::chrono::seconds(10)), 0) << flags[1];
  }
}

}  // namespace
}  // namespace isolated::test
