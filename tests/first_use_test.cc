// What an app's first requests pay for the runtime's own first-use work, through the real
// binary (tests/scripts/first_use.js):
// - a context made from the app's script snapshot is warmed up after it loads, like the spares:
//   its first request does not compile the runtime's request path within the app's CPU limit,
//   and the warm-up never runs the app's handler (worker/runtime_warm_up.h);
// - a runtime module's first load (the streams) is runtime work: its CPU is outside the app's
//   CPU limit, up to CpuWatchdog::kRuntimeWorkAllowance per turn, and no further
//   (worker/cpu_watchdog.h, "Runtime work").
// The script makes the load run long deterministically: it patched a built-in the streams
// module's load calls, so the load runs the script's busy loop.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "http_client.h"
#include "server_process.h"

namespace isolated::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
const std::string kScripts = ISOLATED_TEST_SCRIPTS;
const std::string kFirstUse = kScripts + "/first_use.js";

TEST(FirstUseTest, TheWarmUpNeverCallsTheAppsHandlerOrListener) {
  // "on": the context comes from the app's script snapshot and is warmed up after it loads;
  // "off": it is a spare, warmed up before the app was known.
  for (const char* snapshot : {"on", "off"}) {
    for (const std::string& script : {kFirstUse, kScripts + "/first_use_sw.js"}) {
      SCOPED_TRACE(script + " with --snapshot-script " + snapshot);
      ServerProcess server(script, {"--workers", "1", "--snapshot-script", snapshot});
      ASSERT_NE(server.waitReady(), 0) << server.output();
      auto first = httpGet(server.baseUrl() + "/count");
      EXPECT_EQ(first.status, 200) << first.body;
      EXPECT_EQ(first.body, "calls 1 " + server.baseUrl() + "/count");
      EXPECT_EQ(httpGet(server.baseUrl() + "/count").body,
                "calls 2 " + server.baseUrl() + "/count " + server.baseUrl() + "/count");
    }
  }
}

// Before the warm-up, this first request of a context made from a script snapshot compiled the
// runtime's request path and whatwg-url within the limit: 15-19 ms of CPU on the 2-core VM.
// Warmed up, it takes about 2 ms (6 under ASan).
TEST(FirstUseTest, AScriptSnapshotAppsFirstRequestFitsASmallCpuLimit) {
  ServerProcess server(kFirstUse, {"--workers", "1", "--cpu-limit", "15"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  auto first = httpGet(server.baseUrl() + "/url?x=1");
  EXPECT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.body, "/url");
  EXPECT_EQ(server.countLines("script snapshot off"), 0u) << server.output();
}

// 60 ms of the script's code inside the streams' first load, under a 20 ms limit: the load is
// runtime work, charged to the app's accounting but not to its limit.
TEST(FirstUseTest, ARuntimeModulesFirstLoadIsOutsideTheCpuLimit) {
  ServerProcess server(kFirstUse, {"--workers", "1", "--cpu-limit", "20"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  auto loaded = httpGet(server.baseUrl() + "/streams?spin=60");
  EXPECT_EQ(loaded.status, 200) << loaded.headers["isolated-error"] << " " << loaded.body;
  EXPECT_EQ(loaded.body, "ReadableStream is a function");
  // The same 60 ms in the handler itself is the app's.
  auto ownLoop = httpGet(server.baseUrl() + "/streams?spin=60");
  EXPECT_EQ(ownLoop.status, 200) << "the module is loaded: nothing spins now";
}

// The allowance is bounded: a load that never ends is stopped like any loop, once the run has
// used its limit and the allowance, and the app goes on serving. The stopped load is tried
// again by the next use, but as the app's own work: otherwise a script could have every run
// spend the allowance in a load it makes throw.
TEST(FirstUseTest, RuntimeWorkThatNeverEndsIsStoppedAndItsRetryIsCharged) {
  ServerProcess server(kFirstUse, {"--workers", "1", "--cpu-limit", "20"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  auto started = Clock::now();
  auto stopped = httpGet(server.baseUrl() + "/streams?spin=forever");
  auto elapsed = Clock::now() - started;
  EXPECT_EQ(stopped.status, 503) << stopped.body;
  EXPECT_EQ(stopped.headers["isolated-error"], "cpu-limit");
  // A correctness bound, not a benchmark: 20 ms plus the 100 ms allowance of CPU, then a stop.
  EXPECT_LT(elapsed, 5s);
  EXPECT_EQ(httpGet(server.baseUrl() + "/ok").status, 200);
  // 80 ms of the script's code in the retried load: over the 20 ms limit, well within the
  // allowance it no longer gets.
  auto retried = httpGet(server.baseUrl() + "/streams?spin=80");
  EXPECT_EQ(retried.status, 503) << retried.body;
  EXPECT_EQ(retried.headers["isolated-error"], "cpu-limit");
  EXPECT_EQ(httpGet(server.baseUrl() + "/ok").status, 200);
}

}  // namespace
}  // namespace isolated::test
