// --background-heavy-apps against the real binary: the workers only a heavy app uses, and the
// supervisor's storage threads, run at SCHED_IDLE while a light app is in use (checked against
// the scheduler's own answer for every thread), and get the CPU back when that no longer holds.
// docs/multi-tenancy.md, "Background priority".
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "common/process_priority.h"
#include "tenancy_fixture.h"

namespace isolated::test {
namespace {

// Whether every thread of process `pid` runs with scheduling policy `policy` (false when its
// threads cannot be listed).
bool allThreadsUse(pid_t pid, int policy) {
  std::vector<pid_t> tids;
  if (threadsOf(pid, tids) != 0 || tids.empty()) return false;
  return std::all_of(tids.begin(), tids.end(),
                     [&](pid_t tid) { return sched_getscheduler(tid) == policy; });
}

// --background-heavy-apps: the workers `ctl workers` reports at background CPU priority, checked
// against the scheduler's own answer for every thread of each.
std::vector<long> backgroundWorkers(const ServerProcess& server) {
  json reply = json::parse(runCtl(server, "--json workers").out, nullptr, false);
  std::vector<long> out;
  if (!reply.is_object()) return out;
  for (const auto& w : reply.value("workers", json::array())) {
    if (!w.value("background", false)) continue;
    if (allThreadsUse(w.value("pid", 0), SCHED_IDLE)) out.push_back(w.value("id", 0L));
  }
  return out;
}

// Workers only a heavy app (more requests in flight than one worker's share) uses yield the
// CPU while a light app is in use, and get it back once the light app is quiet; with the flag
// off they never do. Both apps' requests all succeed either way.
class BackgroundPriorityTest : public TenancyTest, public ::testing::WithParamInterface<bool> {};

TEST_P(BackgroundPriorityTest, AHeavyAppsWorkersYieldTheCpuToALightApp) {
  const bool on = GetParam();
  dir_.write("heavy.js",
             "export default { async fetch() {\n"
             "  await new Promise((r) => setTimeout(r, 50));\n"
             "  return new Response('heavy');\n} };\n");
  dir_.write("light.js", counterApp("light"));
  start(std::string(kServer) + (on ? "" : "background_heavy_apps = false\n") +
        "[[app]]\nname = \"heavy\"\nscript = \"heavy.js\"\nroutes = [\"heavy.test/*\"]\n"
        "[[app]]\nname = \"light\"\nscript = \"light.js\"\nroutes = [\"light.test/*\"]\n"
        "cpu_limit = 1000\n");
  // 24 clients keep well over the spread threshold (16) in flight.
  Load heavy([&] { return getHost(*server_, "heavy.test", "/"); }, 24);
  auto light = std::make_unique<Load>([&] { return getHost(*server_, "light.test", "/"); }, 1);
  if (on) {
    ASSERT_TRUE(eventually([&] { return !backgroundWorkers(*server_).empty(); }))
        << runCtl(*server_, "--json workers").out << server_->output();
  } else {
    ASSERT_TRUE(heavy.waitForMore(400));
    EXPECT_TRUE(backgroundWorkers(*server_).empty()) << runCtl(*server_, "--json workers").out;
  }
  ASSERT_TRUE(light->waitForMore(20));
  auto lightCounts = light->counts();
  light.reset();
  // The light app quiet: nothing is left to protect, and the heavy app's workers get the CPU
  // back (after the neighbour window of a second).
  ASSERT_TRUE(eventually([&] { return backgroundWorkers(*server_).empty(); }))
      << runCtl(*server_, "--json workers").out;
  heavy.stop();
  EXPECT_EQ(heavy.failures(), 0) << describe(heavy.counts()) << server_->output();
  EXPECT_EQ(lightCounts.size(), 1u) << describe(lightCounts);
  EXPECT_GT(lightCounts[200], 0) << describe(lightCounts);
}

// The supervisor's storage threads ("storage") yield with the heavy app's workers while no
// light app in use has a storage binding, and get the CPU back when one does.
TEST_F(TenancyTest, StorageThreadsYieldOnlyWhileNoLightAppNeedsThem) {
  dir_.write("heavy.js",
             "export default { async fetch(request, env) {\n"
             "  await new Promise((r) => setTimeout(r, 50));\n"
             "  return new Response(String(await env.KV.get('k')));\n} };\n");
  dir_.write("light.js", counterApp("light"));
  dir_.write("lightkv.js",
             "export default { async fetch(request, env) {\n"
             "  return new Response(String(await env.KV.get('k')));\n} };\n");
  start(std::string(kServer) +
        "[[app]]\nname = \"heavy\"\nscript = \"heavy.js\"\nroutes = [\"heavy.test/*\"]\n"
        "kv = { KV = \"sqlite:heavy-kv.db\" }\n"
        "[[app]]\nname = \"light\"\nscript = \"light.js\"\nroutes = [\"light.test/*\"]\n"
        "cpu_limit = 1000\n"
        "[[app]]\nname = \"lightkv\"\nscript = \"lightkv.js\"\nroutes = [\"lightkv.test/*\"]\n"
        "kv = { KV = \"sqlite:light-kv.db\" }\ncpu_limit = 1000\n");
  // The storage threads of the supervisor, and whether every one of them runs at SCHED_IDLE.
  auto storageIdle = [&] {
    int threads = 0, idle = 0;
    std::vector<pid_t> tids;
    threadsOf(server_->pid(), tids);
    for (pid_t tid : tids) {
      std::ifstream comm("/proc/" + std::to_string(server_->pid()) + "/task/" +
                         std::to_string(tid) + "/comm");
      std::string name;
      std::getline(comm, name);
      if (name != "storage") continue;
      ++threads;
      if (sched_getscheduler(tid) == SCHED_IDLE) ++idle;
    }
    return std::pair(threads, idle);
  };
  Load heavy([&] { return getHost(*server_, "heavy.test", "/"); }, 24);
  ASSERT_TRUE(heavy.waitForMore(50)) << server_->output();
  EXPECT_GT(storageIdle().first, 0) << "no storage threads found";
  {
    Load light([&] { return getHost(*server_, "light.test", "/"); }, 1);
    ASSERT_TRUE(eventually([&] {
      auto [threads, idle] = storageIdle();
      return threads > 0 && idle == threads;
    })) << server_->output();
    // A light app that uses storage: the threads are its too, at normal priority again.
    Load lightKv([&] { return getHost(*server_, "lightkv.test", "/"); }, 1);
    ASSERT_TRUE(eventually([&] { return storageIdle().second == 0; })) << server_->output();
    EXPECT_EQ(light.failures(), 0) << describe(light.counts());
    EXPECT_EQ(lightKv.failures(), 0) << describe(lightKv.counts());
  }
  heavy.stop();
  EXPECT_EQ(heavy.failures(), 0) << describe(heavy.counts());
}

// A lowered worker that stops answering health checks (here: SIGSTOP, as starvation would) is
// raised again at its first miss, and gets its place back once it answers.
TEST_F(TenancyTest, ALoweredWorkerThatMissesAHealthCheckIsRaisedAgain) {
  dir_.write("heavy.js",
             "export default { async fetch() {\n"
             "  await new Promise((r) => setTimeout(r, 50));\n"
             "  return new Response('heavy');\n} };\n");
  dir_.write("light.js", counterApp("light"));
  // Pings every 200 ms, late after 200 ms; 1,000 misses before a replacement, so the stopped
  // worker is only ever raised, never killed, within the test.
  start(std::string(kServer) + "health_interval = 200\nhealth_timeout = 200\n" +
        "health_failures = 1000\nwall_limit = 60000\n" +
        "[[app]]\nname = \"heavy\"\nscript = \"heavy.js\"\nroutes = [\"heavy.test/*\"]\n"
        "[[app]]\nname = \"light\"\nscript = \"light.js\"\nroutes = [\"light.test/*\"]\n"
        "cpu_limit = 1000\n");
  Load heavy([&] { return getHost(*server_, "heavy.test", "/"); }, 24);
  Load light([&] { return getHost(*server_, "light.test", "/"); }, 1);
  std::vector<long> lowered;
  ASSERT_TRUE(eventually([&] { return !(lowered = backgroundWorkers(*server_)).empty(); }))
      << server_->output();
  json reply = json::parse(runCtl(*server_, "--json workers").out, nullptr, false);
  pid_t pid = 0;
  for (const auto& w : reply.value("workers", json::array()))
    if (w.value("id", 0L) == lowered.front()) pid = w.value("pid", 0);
  ASSERT_GT(pid, 0) << reply.dump();
  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  // Raised while it is still stopped: every thread back at SCHED_OTHER.
  bool raised = eventually([&] { return allThreadsUse(pid, SCHED_OTHER); });
  kill(pid, SIGCONT);
  ASSERT_TRUE(raised) << server_->output();
  EXPECT_NE(server_->output().find("worker missed a health check"), std::string::npos);
  light.stop();
  heavy.stop();
  EXPECT_EQ(light.failures(), 0) << describe(light.counts());
  EXPECT_EQ(heavy.failures(), 0) << describe(heavy.counts()) << server_->output();
}

INSTANTIATE_TEST_SUITE_P(OnAndOff, BackgroundPriorityTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "On" : "Off"; });

}  // namespace
}  // namespace isolated::test
