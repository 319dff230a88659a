// Integration tests of the storage bindings through the real `isolated serve` on port 0: KV,
// SQL database and object storage on SQLite and a directory, expiry, many workers writing one
// key, limits, and the bindings as service-worker globals. Per-app bindings, PostgreSQL and
// start-up errors are in storage_apps_test.cc (servers: tests/storage_fixture.h).
#include "storage_fixture.h"

namespace isolated::test {
namespace {

using nlohmann::json;

// ---- KV on SQLite ----

TEST(StorageKv, OperationsOnSqlite) {
  TempDir dir;
  StorageServer server({"--kv", "KV=" + dir.path().string() + "/kv.sqlite"});
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
      {"--kv", "KV=" + dir.path().string() + "/kv.sqlite", "--cpu-limit", "5000"}));
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
  StorageServer server({"--kv", "KV=sqlite:" + dir.path().string() + "/kv.sqlite"});
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
  StorageServer server({"--kv", "KV=" + dir.path().string() + "/kv.sqlite"});
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
  StorageServer server({"--kv", "KV=" + dir.path().string() + "/kv.sqlite"});
  ASSERT_TRUE(server.ready());
  ASSERT_EQ(server.get("/kv/later?k=late").status, 200);
  EXPECT_EQ(server.awaitValue("late", std::chrono::seconds(5)), "written later");
}

// The supervisor remembers only its most recent answers (RequestTracker::kRecentAnswers), so
// under load a request answered a moment ago drops out of them; its waitUntil() work must still
// reach storage (the Response said the work was pending: the request lingers).
TEST(StorageKv, WaitUntilWorkMayWriteAfterThousandsOfLaterAnswers) {
  TempDir dir;
  StorageServer server({"--kv", "KV=" + dir.path().string() + "/kv.sqlite"});
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
  StorageServer server({"--kv", "KV=" + dir.path().string() + "/kv.sqlite", "--workers", "4"});
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
  StorageServer server({"--kv", "KV=" + dir.path().string() + "/kv.sqlite"}, "storage_classic.js");
  ASSERT_TRUE(server.ready()) << server.process().output();
  auto result = server.get("/");
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(result.body, "from a global binding");
}

TEST(StorageKv, TopLevelCodeIsRefusedAndTheWorkerServes) {
  TempDir dir;
  StorageServer server({"--kv", "KV=" + dir.path().string() + "/kv.sqlite"},
                       "storage_top_level.js");
  ASSERT_TRUE(server.ready()) << server.process().output();
  auto result = server.get("/");
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(result.body, "storage bindings can only be used while handling a request");
}

// ---- SQL on SQLite ----

TEST(StorageDatabase, OperationsOnSqlite) {
  TempDir dir;
  StorageServer server({"--database", "DB=sqlite:" + dir.path().string() + "/d1.sqlite"});
  ASSERT_TRUE(server.ready()) << server.process().output();
  exerciseDatabase(server, "people");
}

// ---- objects in a directory ----

TEST(StorageObjects, OperationsOnADirectory) {
  TempDir dir;
  std::string bucket = dir.path().string() + "/bucket";
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
  EXPECT_FALSE(std::filesystem::exists(dir.path().string() + "/outside.txt"));
  auto absolute = server.post("/r2/put?k=%2Fetc%2Fx", "x");
  EXPECT_NE(absolute.body.find("absolute path"), std::string::npos) << absolute.body;
}

}  // namespace
}  // namespace isolated::test
