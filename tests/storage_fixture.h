// The storage integration tests' servers: one for tests/scripts/storage.js with binding flags
// (StorageServer), and one of two apps with [[app]] binding keys (TwoApps), each in a fresh
// temporary directory. Shared by storage_test.cc and storage_apps_test.cc.
#pragma once

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
#include "temp_dir.h"

namespace isolated::test {

using nlohmann::json;

inline const std::string kScripts = ISOLATED_TEST_SCRIPTS;

inline std::string escape(const std::string& text) {
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

// A server of two apps running storage.js, "one" (host one.test) and "two" (host two.test),
// whose [[app]] tables add `one` and `two` (TOML lines).
class TwoApps {
 public:
  TwoApps(const std::string& one, const std::string& two, std::vector<std::string> flags = {})
      : config_(write(dir_.path().string() + "/isolated.toml",
                      "[[app]]\nname = \"one\"\nscript = \"" + kScripts +
                          "/storage.js\"\nroutes = [\"one.test/*\"]\n" + one +
                          "\n\n[[app]]\nname = \"two\"\nscript = \"" + kScripts +
                          "/storage.js\"\nroutes = [\"two.test/*\"]\n" + two + "\n")),
        server_("", withConfig(std::move(flags), config_)) {
    port_ = server_.waitReady();
  }
  bool ready() const { return port_ != 0; }
  std::string dir() const { return dir_.path().string(); }
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

// The SQL database binding's API against `table` (created here): exec, run, all, first, raw,
// a batch that rolls back, SQL errors.
inline void exerciseDatabase(StorageServer& server, const std::string& table) {
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

}  // namespace isolated::test
