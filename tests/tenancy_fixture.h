// Helpers of the multi-app integration tests (tenancy_test.cc, background_priority_test.cc):
// a fresh temporary directory per test with the server started from a config file there, a
// counting app, `ctl apps` as JSON, requests by Host, and a Load of client threads.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "eventually.h"
#include "http_client.h"
#include "sanitizer.h"
#include "server_process.h"
#include "shell_command.h"
#include "temp_dir.h"

namespace isolated::test {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// An app that answers "<name> <counter> <GREETING>": the counter is a global of its isolate.
inline std::string counterApp(const std::string& name) {
  return "let n = 0;\n"
         "export default { fetch(request, env) {\n"
         "  n++;\n"
         "  return new Response('" +
         name +
         " ' + n + ' ' + (env.GREETING ?? '-') + ' ' + new URL(request.url).pathname);\n"
         "} };\n";
}

inline json appsOf(const ServerProcess& server) {
  auto r = runCtl(server, "--json apps");
  json reply = json::parse(r.out, nullptr, false);
  return reply.is_object() ? reply.value("apps", json::array()) : json::array();
}

inline json appNamed(const ServerProcess& server, const std::string& name) {
  for (const auto& app : appsOf(server)) {
    if (app.value("name", "") == name) return app;
  }
  return json::object();
}

inline HttpResult getHost(const ServerProcess& server, const std::string& host,
                          const std::string& path) {
  return httpRequest("GET", server.baseUrl() + path, {}, {{"Host", host}});
}

// Requests in a loop on `threads` threads until stopped, counting statuses and bodies.
class Load {
 public:
  Load(std::function<HttpResult()> request, int threads) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this, request] {
        while (!stop_) {
          auto r = request();
          std::lock_guard lock(mutex_);
          ++byStatus_[r.status];
        }
      });
    }
  }
  ~Load() { stop(); }
  void stop() {
    stop_ = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }
  int total() {
    std::lock_guard lock(mutex_);
    int n = 0;
    for (auto [status, count] : byStatus_)
      n += count;
    return n;
  }
  bool waitForMore(int n) {
    int target = total() + n;
    return eventually([&] { return total() >= target; }, 30s);
  }
  std::map<long, int> counts() {
    std::lock_guard lock(mutex_);
    return byStatus_;
  }
  int failures() {
    int n = 0;
    for (auto [status, count] : counts())
      if (status != 200) n += count;
    return n;
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::map<long, int> byStatus_;
};

inline std::string describe(const std::map<long, int>& counts) {
  std::string out;
  for (auto [status, count] : counts)
    out += std::to_string(status) + ":" + std::to_string(count) + " ";
  return out;
}

class TenancyTest : public ::testing::Test {
 protected:
  // Writes `toml` (with [server] workers = 2 unless given) and starts the server.
  void start(const std::string& toml, std::vector<std::string> extra = {}) {
    configPath_ = dir_.write("isolated.toml", toml);
    std::vector<std::string> args = {"--config", configPath_};
    args.insert(args.end(), extra.begin(), extra.end());
    server_ = std::make_unique<ServerProcess>("", args);
    ASSERT_NE(server_->waitReady(), 0) << server_->output();
  }
  TempDir dir_;
  std::string configPath_;
  std::unique_ptr<ServerProcess> server_;
};

inline constexpr const char* kServer = "[server]\nworkers = 2\n";

}  // namespace isolated::test
