// `isolated serve --watch` against the real binary: an edit of the script or of one of its
// imports reloads it (a rolling reload, as SIGHUP), a broken edit is refused while the last good
// version keeps serving, and with --config an edit of one app's script redeploys that app only
// while an edit of the config file applies its difference. Waits are for an answer or a log
// line, with deadlines.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "http_client.h"
#include "server_process.h"

namespace isolated::test {
namespace {

using Clock = std::chrono::steady_clock;

class WatchedDir {
 public:
  WatchedDir() {
    char pattern[] = "/tmp/isolated-watch-XXXXXX";
    dir_ = mkdtemp(pattern);
    // Sandboxed workers run as nobody and must be able to read the scripts.
    std::filesystem::permissions(dir_, std::filesystem::perms(0755));
  }
  ~WatchedDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  // Saved in place (truncate and write), as `echo > file` does.
  std::string write(const std::string& name, const std::string& text) const {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  // Saved as most editors do: a new file renamed over the old one.
  void replace(const std::string& name, const std::string& text) const {
    std::string tmp = dir_ + "/." + name + ".swp";
    std::ofstream(tmp) << text;
    std::filesystem::rename(tmp, dir_ + "/" + name);
  }
  const std::string& path() const { return dir_; }

 private:
  std::string dir_;
};

// Polls `url` until its body is `expected`; the last body seen otherwise.
std::string awaitBody(const std::string& url, const std::string& expected,
                      std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto deadline = Clock::now() + timeout;
  std::string body;
  while (Clock::now() < deadline) {
    body = httpGet(url).body;
    if (body == expected) return body;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return body;
}

TEST(WatchTest, ScriptAndImportEditsReloadAndABrokenEditIsRefused) {
  WatchedDir dir;
  dir.write("lib.js", "export const v = 'v1';\n");
  std::string script =
      dir.write("worker.js",
                "import { v } from './lib.js';\n"
                "export default { fetch() { return new Response('main ' + v + '\\n'); } };\n");
  ServerProcess server(script, {"--workers", "2", "--watch", "on"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  std::string url = server.baseUrl() + "/";
  ASSERT_EQ(httpGet(url).body, "main v1\n");

  // The script, saved by rename.
  dir.replace("worker.js",
              "import { v } from './lib.js';\n"
              "export default { fetch() { return new Response('edited ' + v + '\\n'); } };\n");
  EXPECT_EQ(awaitBody(url, "edited v1\n"), "edited v1\n") << server.output();
  // An import, saved in place.
  dir.write("lib.js", "export const v = 'v2';\n");
  EXPECT_EQ(awaitBody(url, "edited v2\n"), "edited v2\n") << server.output();
  ASSERT_TRUE(server.waitForLine([](const std::string& l) {
    return l.find("reload complete") != std::string::npos;
  })) << server.output();

  // A broken edit: refused, and the last good version keeps serving.
  size_t refusedBefore = server.countLines("reload refused");
  dir.replace("worker.js", "export default { fetch() { return new Response('broken' };\n");
  EXPECT_TRUE(server.waitForCount("reload refused", refusedBefore + 1)) << server.output();
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(httpGet(url).body, "edited v2\n");

  // Fixing it is picked up as well.
  dir.replace("worker.js", "export default { fetch() { return new Response('fixed\\n'); } };\n");
  EXPECT_EQ(awaitBody(url, "fixed\n"), "fixed\n") << server.output();
}

TEST(WatchTest, WithAConfigFileOnlyWhatChangedIsReloaded) {
  WatchedDir dir;
  auto app = [](const std::string& name, const std::string& tag) {
    return "export default { fetch(request, env) { return new Response('" + name + " " + tag +
           " ' + (env.GREETING ?? '-') + '\\n'); } };\n";
  };
  dir.write("a.js", app("a", "1"));
  dir.write("b.js", app("b", "1"));
  auto config = [](const std::string& greeting) {
    return "[server]\nworkers = 1\nwatch = true\n"
           "[[app]]\nname = \"a\"\nscript = \"a.js\"\nroutes = [\"*/a/*\"]\n"
           "[[app]]\nname = \"b\"\nscript = \"b.js\"\nroutes = [\"*/b/*\"]\n"
           "vars = { GREETING = \"" +
           greeting + "\" }\n";
  };
  std::string configPath = dir.write("isolated.toml", config("hello"));
  ServerProcess server("", {"--config", configPath});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  std::string a = server.baseUrl() + "/a/";
  std::string b = server.baseUrl() + "/b/";
  ASSERT_EQ(httpGet(a).body, "a 1 -\n");
  ASSERT_EQ(httpGet(b).body, "b 1 hello\n");

  // One app's script: that app is redeployed, the other is not touched.
  dir.replace("a.js", app("a", "2"));
  EXPECT_EQ(awaitBody(a, "a 2 -\n"), "a 2 -\n") << server.output();
  EXPECT_EQ(httpGet(b).body, "b 1 hello\n");
  auto deploying = [&](const std::string& name) {
    size_t n = 0;
    std::istringstream lines(server.output());
    for (std::string line; std::getline(lines, line);) {
      if (line.find("msg=deploying") != std::string::npos ||
          line.find("msg=\"deploying\"") != std::string::npos) {
        if (logField(line, "app") == name) ++n;
      }
    }
    return n;
  };
  EXPECT_EQ(deploying("a"), 1u) << server.output();
  EXPECT_EQ(deploying("b"), 0u) << server.output();

  // The config file: its difference applies (b's variable), as SIGHUP would.
  dir.replace("isolated.toml", config("bonjour"));
  EXPECT_EQ(awaitBody(b, "b 1 bonjour\n"), "b 1 bonjour\n") << server.output();
  EXPECT_EQ(httpGet(a).body, "a 2 -\n");
  EXPECT_TRUE(server.waitForLine([](const std::string& l) {
    return l.find("config reloaded") != std::string::npos;
  })) << server.output();
}

}  // namespace
}  // namespace isolated::test
