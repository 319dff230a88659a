// Integration tests of `isolated ctl` with the real binary: every command in table and JSON
// form, their effects on the pool, usage errors, the admin listener (/metrics through the
// Prometheus parser, /healthz, /readyz) and a log flood. The socket's wire protocol is tested in
// ctl_socket_test.cc. Each test runs its own server with its own socket in a fresh temporary
// directory (tests/ctl_fixture.h), and waits on log lines, replies or exits, never on fixed
// sleeps.
#include "ctl_fixture.h"

namespace isolated::test {
namespace {

TEST_F(CtlTest, StatusTableAndJson) {
  start();
  ASSERT_EQ(httpGet(server_->baseUrl() + "/ok").status, 200);

  CtlResult table = ctl({"status"});
  ASSERT_EQ(table.exitCode, 0) << describe(table);
  EXPECT_TRUE(table.err.empty()) << table.err;
  for (const char* key :
       {"state:", "uptime:", "workers:", "responses:", "restarts:", "pid:", "dropped log lines:"}) {
    EXPECT_NE(table.out.find(key), std::string::npos) << key << "\n" << table.out;
  }
  EXPECT_NE(table.out.find("serving"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find(std::to_string(server_->pid())), std::string::npos) << table.out;

  json s = status();
  EXPECT_EQ(s.value("state", ""), "serving");
  EXPECT_EQ(s.value("pid", 0), server_->pid());
  EXPECT_EQ(s.value("workers", 0), 2);
  EXPECT_EQ(s.value("target", 0), 2);
  EXPECT_EQ(s.value("version", ""), "0.1.0");
  EXPECT_NE(s.value("listen", "").find(std::to_string(server_->port())), std::string::npos);
  EXPECT_GE(s.value("requests_total", 0), 1);
  ASSERT_TRUE(s.contains("responses") && s["responses"].is_object()) << s.dump();
  EXPECT_GE(s["responses"].value("2xx", 0), 1);
  for (const char* key : {"uptime_s", "script", "isolation", "min_workers", "max_workers",
                          "in_flight", "queued", "restarts", "dropped_log_lines"}) {
    EXPECT_TRUE(s.contains(key)) << key << " missing from " << s.dump();
  }
  EXPECT_EQ(s.value("script", ""), std::filesystem::canonical(script_).string());
}

TEST_F(CtlTest, WorkersTableAndJson) {
  start({"--health-interval", "200"});
  // Health needs one Pong before it reads "ok" (with --health-interval 200, within a second);
  // RSS is sampled once a second.
  ASSERT_TRUE(eventually([&] {
    json list = workers();
    return list.is_array() && list.size() == 2 &&
           std::all_of(list.begin(), list.end(), [](const json& w) {
             return w.value("health", "") == "ok" && w.value("rss_bytes", 0ull) > 0;
           });
  })) << workers().dump();

  std::set<pid_t> pids;
  for (pid_t p : server_->liveWorkerPids())
    pids.insert(p);

  json list = workers();
  ASSERT_EQ(list.size(), 2u);
  for (const auto& w : list) {
    for (const char* key :
         {"id", "slot", "pid", "state", "uptime_s", "requests_served", "in_flight", "rss_bytes",
          "heap_used_bytes", "heap_limit_bytes", "health", "event_loop_lag_ms", "restarts",
          "last_exit_reason", "cpu_limit_terminations", "memory_limit_terminations", "retiring"}) {
      EXPECT_TRUE(w.contains(key)) << key << " missing from " << w.dump();
    }
    EXPECT_EQ(w.value("state", ""), "ready");
    EXPECT_TRUE(pids.contains(w.value("pid", 0))) << w.dump();
    EXPECT_GT(w.value("rss_bytes", 0ull), 1ull << 20) << w.dump();
    EXPECT_GT(w.value("heap_limit_bytes", 0ull), w.value("heap_used_bytes", 0ull)) << w.dump();
    EXPECT_GT(w.value("heap_used_bytes", 0ull), 0ull) << w.dump();
  }
  std::set<int> slots = {list[0].value("slot", 0), list[1].value("slot", 0)};
  EXPECT_EQ(slots, (std::set<int>{1, 2}));

  CtlResult table = ctl({"workers"});
  ASSERT_EQ(table.exitCode, 0) << describe(table);
  std::string header = table.out.substr(0, table.out.find('\n'));
  EXPECT_EQ(words(header), kWorkerHeader) << table.out;
  auto rows = tableRows(table.out);
  ASSERT_EQ(rows.size(), 2u) << table.out;
  std::set<pid_t> tablePids;
  for (const auto& row : rows) {
    auto cells = words(row);
    ASSERT_EQ(cells.size(), kWorkerHeader.size()) << row;
    tablePids.insert(std::stoi(cells[2]));
    EXPECT_EQ(cells[3], "ready") << row;
    EXPECT_EQ(cells[9], "ok") << row;
    EXPECT_NE(cells[7].find('.'), std::string::npos) << "RSS in MiB with a decimal: " << row;
  }
  EXPECT_EQ(tablePids, pids);
}

TEST_F(CtlTest, MetricsIsPrometheusTextInBothModes) {
  start();
  ASSERT_EQ(httpGet(server_->baseUrl() + "/ok").status, 200);
  for (bool asJson : {false, true}) {
    CtlResult r = asJson ? ctl({"--json", "metrics"}) : ctl({"metrics"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_NE(r.out.find("# TYPE isolated_requests_total counter"), std::string::npos) << r.out;
    EXPECT_TRUE(json::parse(r.out, nullptr, false).is_discarded()) << "metrics printed as JSON";
  }
}

TEST_F(CtlTest, ReloadReplacesEveryWorker) {
  start();
  auto before = server_->liveWorkerPids();
  ASSERT_EQ(before.size(), 2u);

  CtlResult r = ctl({"reload"});
  ASSERT_EQ(r.exitCode, 0) << describe(r);
  EXPECT_FALSE(r.out.empty());
  ASSERT_TRUE(server_->waitForLine([](const std::string& l) {
    return l.find("msg=\"reload complete\"") != std::string::npos;
  })) << server_->output();

  ASSERT_TRUE(eventually([&] { return countWorkers("ready") == 2 && workers().size() == 2; }))
      << workers().dump();
  for (const auto& w : workers()) {
    EXPECT_EQ(std::count(before.begin(), before.end(), w.value("pid", 0)), 0)
        << "worker " << w.dump() << " survived the reload";
    EXPECT_EQ(w.value("last_exit_reason", ""), "reload") << w.dump();
    EXPECT_GE(w.value("restarts", 0), 1) << w.dump();
  }
  EXPECT_EQ(status().value("restarts", json::object()).value("reload", 0), 2) << status().dump();
  EXPECT_EQ(httpGet(server_->baseUrl() + "/ok").status, 200);
}

TEST_F(CtlTest, RestartRecyclesOneWorker) {
  start();
  json list = workers();
  ASSERT_EQ(list.size(), 2u);
  int id = list[0].value("id", 0);
  int slot = list[0].value("slot", 0);
  int otherPid = list[1].value("pid", 0);

  CtlResult r = ctl({"restart", std::to_string(id)});
  ASSERT_EQ(r.exitCode, 0) << describe(r);
  ASSERT_TRUE(server_->waitForLine([](const std::string& l) {
    return l.find("msg=\"recycling worker\"") != std::string::npos;
  })) << server_->output();

  // The replacement takes the slot; the other worker is untouched.
  ASSERT_TRUE(eventually([&] {
    json now = workers();
    bool gone =
        std::none_of(now.begin(), now.end(), [&](const json& w) { return w.value("id", 0) == id; });
    return gone && now.size() == 2 && countWorkers("ready") == 2;
  })) << workers().dump();
  for (const auto& w : workers()) {
    if (w.value("slot", 0) == slot) {
      EXPECT_EQ(w.value("restarts", 0), 1) << w.dump();
      EXPECT_FALSE(w.value("last_exit_reason", "").empty()) << w.dump();
    } else {
      EXPECT_EQ(w.value("pid", 0), otherPid) << w.dump();
      EXPECT_EQ(w.value("restarts", 0), 0) << w.dump();
    }
  }

  // No such worker: "ok":false, exit 1, the server's error on stderr; --json still prints it.
  CtlResult missing = ctl({"restart", "9999"});
  EXPECT_EQ(missing.exitCode, 1) << describe(missing);
  EXPECT_EQ(missing.err.rfind("isolated ctl: ", 0), 0u) << missing.err;
  EXPECT_NE(missing.err.find("9999"), std::string::npos) << missing.err;
  CtlResult missingJson = ctl({"--json", "restart", "9999"});
  EXPECT_EQ(missingJson.exitCode, 1) << describe(missingJson);
  json reply = json::parse(missingJson.out, nullptr, false);
  ASSERT_TRUE(reply.is_object()) << missingJson.out;
  EXPECT_TRUE(isFailure(reply)) << reply.dump();
}

TEST_F(CtlTest, ScaleUpAndDown) {
  start();
  CtlResult up = ctl({"scale", "3"});
  ASSERT_EQ(up.exitCode, 0) << describe(up);
  ASSERT_TRUE(server_->waitForLine([](const std::string& l) {
    return l.find("msg=\"scaling\"") != std::string::npos;
  })) << server_->output();
  ASSERT_TRUE(eventually([&] { return countWorkers("ready") == 3; })) << workers().dump();
  json s = status();
  EXPECT_EQ(s.value("target", 0), 3);
  EXPECT_EQ(s.value("workers", 0), 3);
  EXPECT_EQ(tableRows(ctl({"workers"}).out).size(), 3u);

  CtlResult down = ctl({"scale", "1"});
  ASSERT_EQ(down.exitCode, 0) << describe(down);
  ASSERT_TRUE(eventually([&] { return workers().size() == 1; })) << workers().dump();
  EXPECT_EQ(status().value("target", 0), 1);
  EXPECT_EQ(status().value("restarts", json::object()).value("scale-down", 0), 2)
      << status().dump();
  EXPECT_EQ(httpGet(server_->baseUrl() + "/ok").status, 200);

  // Out of range: refused by the server, nothing changes.
  for (const char* n : {"0", "257"}) {
    CtlResult bad = ctl({"scale", n});
    EXPECT_EQ(bad.exitCode, 1) << n << ": " << describe(bad);
    EXPECT_NE(bad.err.find("isolated ctl: "), std::string::npos) << bad.err;
  }
  EXPECT_EQ(status().value("target", 0), 1);
}

TEST_F(CtlTest, DrainRefusesConnectionsAndResumeAcceptsThem) {
  start({"--admin-listen", "127.0.0.1:0"});
  std::string admin = adminUrl();
  ASSERT_EQ(httpGet(server_->baseUrl() + "/ok").status, 200);
  EXPECT_EQ(httpGet(admin + "/readyz").status, 200);

  CtlResult drain = ctl({"drain"});
  ASSERT_EQ(drain.exitCode, 0) << describe(drain);
  EXPECT_EQ(status().value("state", ""), "draining");
  EXPECT_TRUE(eventually([&] { return connectionRefused(server_->port()); }));
  EXPECT_EQ(httpGet(admin + "/readyz").status, 503);
  EXPECT_EQ(httpGet(admin + "/healthz").status, 200);
  // The workers stay up while drained.
  EXPECT_EQ(countWorkers("ready"), 2u);
  // Draining twice is refused.
  EXPECT_EQ(ctl({"drain"}).exitCode, 1);

  CtlResult resume = ctl({"resume"});
  ASSERT_EQ(resume.exitCode, 0) << describe(resume);
  EXPECT_EQ(status().value("state", ""), "serving");
  EXPECT_EQ(httpGet(server_->baseUrl() + "/ok").status, 200);
  EXPECT_EQ(httpGet(admin + "/readyz").status, 200);
  // Resuming what is not drained is refused.
  EXPECT_EQ(ctl({"resume"}).exitCode, 1);
}

TEST_F(CtlTest, TopRefreshesUntilIterationsOrSignal) {
  start();
  CtlResult r = ctl({"top", "--iterations", "2"});
  ASSERT_EQ(r.exitCode, 0) << describe(r);
  size_t headers = 0;
  for (size_t at = r.out.find("ID  SLOT"); at != std::string::npos;
       at = r.out.find("ID  SLOT", at + 1))
    ++headers;
  EXPECT_EQ(headers, 2u) << r.out;
  EXPECT_EQ(r.out.find("\033[2J"), std::string::npos) << "clears the screen of a pipe";

  // --json: one workers reply per refresh, one per line.
  CtlResult asJson = ctl({"--json", "top", "--iterations", "2"});
  ASSERT_EQ(asJson.exitCode, 0) << describe(asJson);
  std::istringstream lines(asJson.out);
  int replies = 0;
  for (std::string line; std::getline(lines, line); ++replies) {
    json reply = parseLine(line);
    EXPECT_TRUE(isOk(reply) && reply["workers"].size() == 2) << line;
  }
  EXPECT_EQ(replies, 2) << asJson.out;

  // Until SIGTERM (or SIGINT): the third table appears, then the signal ends it with status 0.
  CtlProcess endless({"--socket", socket_, "top"});
  ASSERT_TRUE(endless.waitForStdout("ID  SLOT", 3)) << endless.finish().out;
  endless.signal(SIGTERM);
  CtlResult stopped = endless.finish(5s);
  EXPECT_EQ(stopped.exitCode, 0) << describe(stopped);

  CtlProcess interrupted({"--socket", socket_, "top"});
  ASSERT_TRUE(interrupted.waitForStdout("ID  SLOT", 1));
  interrupted.signal(SIGINT);
  EXPECT_EQ(interrupted.finish(5s).exitCode, 0);
}

TEST_F(CtlTest, TopClearsTheScreenOnATerminal) {
  start();
  CtlProcess tty({"--socket", socket_, "top", "--iterations", "2"}, {}, /*ttyStdout=*/true);
  CtlResult r = tty.finish();
  ASSERT_EQ(r.exitCode, 0) << describe(r);
  size_t clears = 0;
  for (size_t at = r.out.find("\033[H\033[2J"); at != std::string::npos;
       at = r.out.find("\033[H\033[2J", at + 1))
    ++clears;
  EXPECT_EQ(clears, 2u) << r.out;
}

TEST_F(CtlTest, SocketFromEnvironment) {
  start();
  CtlResult r = runCtl({"--json", "status"}, {{"ISOLATED_CONTROL_SOCKET", socket_}});
  ASSERT_EQ(r.exitCode, 0) << describe(r);
  EXPECT_EQ(parseLine(r.out).value("status", json::object()).value("pid", 0), server_->pid());
}

// ---- usage and reachability errors ---------------------------------------------------------

TEST(CtlUsage, UsageErrorsExitTwo) {
  for (const auto& args : std::vector<std::vector<std::string>>{{},
                                                                {"bogus"},
                                                                {"restart"},
                                                                {"restart", "x"},
                                                                {"scale"},
                                                                {"status", "extra"},
                                                                {"--no-such-flag", "status"}}) {
    CtlResult r = runCtl(args);
    EXPECT_EQ(r.exitCode, 2) << describe(r);
    EXPECT_EQ(r.err.rfind("isolated ctl: ", 0), 0u) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  CtlResult help = runCtl({"--help"});
  EXPECT_EQ(help.exitCode, 0);
  EXPECT_NE(help.out.find("restart ID"), std::string::npos) << help.out;
}

TEST(CtlUsage, UnreachableSocketExitsThreeNamingPathAndErrno) {
  TempDir dir;
  std::string missing = dir.path().string() + "/none.sock";
  CtlResult r = runCtl({"--socket", missing, "status"});
  EXPECT_EQ(r.exitCode, 3) << describe(r);
  EXPECT_EQ(r.err, "isolated ctl: cannot connect to " + missing + ": No such file or directory\n");

  // A socket file nobody listens on.
  std::string stale = dir.path().string() + "/stale.sock";
  {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof address.sun_path, "%s", stale.c_str());
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    close(fd);
  }
  r = runCtl({"--socket", stale, "workers"});
  EXPECT_EQ(r.exitCode, 3) << describe(r);
  EXPECT_NE(r.err.find("Connection refused"), std::string::npos) << r.err;
}

TEST(CtlUsage, SilentServerTimesOutWithExitThree) {
  // A listener that accepts (through the backlog) but never answers.
  TempDir dir;
  std::string path = dir.path().string() + "/mute.sock";
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  auto started = Clock::now();
  CtlResult r = runCtl({"--socket", path, "status"});
  auto took = Clock::now() - started;
  close(fd);
  EXPECT_EQ(r.exitCode, 3) << describe(r);
  EXPECT_NE(r.err.find("no reply from " + path), std::string::npos) << r.err;
  EXPECT_GE(took, 9s);
  EXPECT_LT(took, 20s);
}

// ---- the wire protocol ---------------------------------------------------------------------

// Runs the Prometheus client library's text parser over `text`; returns
// {family: {"type": ..., "samples": [[name, labels, value], ...]}} or a discarded json.
json parsePrometheus(const std::string& text, std::string& error) {
  TempDir dir;
  std::string input = dir.write("metrics.txt", text);
  std::string output = dir.path().string() + "/families.json";
  std::string command =
      "/usr/bin/python3 -c 'import sys, json, prometheus_client.parser as p; "
      "fams = list(p.text_string_to_metric_families(sys.stdin.read())); "
      "json.dump({f.name: {\"type\": f.type, \"samples\": "
      "[[s.name, s.labels, s.value] for s in f.samples]} for f in fams}, sys.stdout)' < " +
      input + " > " + output + " 2> " + dir.path().string() + "/err.txt";
  int rc = std::system(command.c_str());
  if (rc != 0) {
    std::ifstream err(dir.path().string() + "/err.txt");
    error = std::string(std::istreambuf_iterator<char>(err), {});
    return json(json::value_t::discarded);
  }
  std::ifstream in(output);
  return json::parse(in, nullptr, false);
}

TEST_F(CtlTest, MetricsEndpointParsesAsPrometheusText) {
  start({"--admin-listen", "127.0.0.1:0"});
  std::string admin = adminUrl();
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(httpGet(server_->baseUrl() + "/ok").status, 200);
  ASSERT_EQ(httpGet(server_->baseUrl() + "/missing").status, 404);

  // Worker RSS is sampled once a second; wait for the first sample of both workers.
  ASSERT_TRUE(eventually([&] {
    json list = workers();
    return list.size() == 2 && std::all_of(list.begin(), list.end(), [](const json& w) {
             return w.value("rss_bytes", 0ull) > 0;
           });
  })) << workers().dump();
  HttpResult metrics = httpGet(admin + "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.headers["content-type"].find("text/plain"), std::string::npos);
  std::string error;
  json families = parsePrometheus(metrics.body, error);
  ASSERT_FALSE(families.is_discarded()) << error << "\n" << metrics.body;

  // The parser drops a counter's _total suffix from the family name.
  const std::map<std::string, std::string> expected = {
      {"isolated_requests", "counter"},
      {"isolated_request_duration_seconds", "histogram"},
      {"isolated_queue_wait_seconds", "histogram"},
      {"isolated_queue_depth", "gauge"},
      {"isolated_worker_in_flight", "gauge"},
      {"isolated_worker_background", "gauge"},
      {"isolated_worker_rss_bytes", "gauge"},
      {"isolated_worker_heap_used_bytes", "gauge"},
      {"isolated_worker_restarts", "counter"},
      {"isolated_limit_terminations", "counter"},
      {"isolated_dropped_log_lines", "counter"},
      {"isolated_fetches_in_flight", "gauge"},
      {"isolated_request_records", "gauge"},
      {"isolated_fetches", "counter"},
      {"isolated_http_refused", "counter"},
      {"isolated_http_connections_open", "gauge"},
      {"isolated_http_connections_accepted", "counter"},
      {"isolated_io_threads", "gauge"},
  };
  for (const auto& [name, type] : expected) {
    ASSERT_TRUE(families.contains(name)) << name << " missing:\n" << metrics.body;
    EXPECT_EQ(families[name].value("type", ""), type) << name;
  }

  double ok = 0, notFound = 0;
  for (const auto& s : families["isolated_requests"]["samples"]) {
    if (s[1].value("code", "") == "2xx") ok = s[2].get<double>();
    if (s[1].value("code", "") == "4xx") notFound = s[2].get<double>();
  }
  EXPECT_GE(ok, 5);
  EXPECT_GE(notFound, 1);
  // Every request above came on a connection of its own; the front is the main loop's.
  EXPECT_GE(families["isolated_http_connections_accepted"]["samples"][0][2].get<double>(), 6);
  EXPECT_EQ(families["isolated_io_threads"]["samples"][0][2].get<double>(), 1);
  // One app, so nothing to yield the CPU to: no worker at background priority.
  const auto& background = families["isolated_worker_background"]["samples"];
  EXPECT_EQ(background.size(), 2u) << background.dump();
  for (const auto& s : background)
    EXPECT_EQ(s[2].get<double>(), 0) << background.dump();
  // One RSS sample per worker, each plausible.
  const auto& rss = families["isolated_worker_rss_bytes"]["samples"];
  EXPECT_EQ(rss.size(), 2u) << rss.dump();
  for (const auto& s : rss)
    EXPECT_GT(s[2].get<double>(), 1 << 20) << s.dump();
  // The histogram counted every answered request.
  double count = 0;
  for (const auto& s : families["isolated_request_duration_seconds"]["samples"]) {
    if (s[0] == "isolated_request_duration_seconds_count") count = s[2].get<double>();
  }
  EXPECT_GE(count, 6);

  // The control socket's metrics are the same exposition.
  std::string viaCtl = ctl({"metrics"}).out;
  error.clear();
  EXPECT_FALSE(parsePrometheus(viaCtl, error).is_discarded()) << error;

  EXPECT_EQ(httpGet(admin + "/healthz").status, 200);
  EXPECT_EQ(httpGet(admin + "/readyz").status, 200);
  EXPECT_EQ(httpGet(admin + "/nope").status, 404);
}

// ---- log flood -----------------------------------------------------------------------------

TEST_F(CtlTest, LogFloodKeepsServerResponsiveAndEveryLineIsLoggedOrCounted) {
  // Workers report their dropped lines in each Pong, so ping often. Every line the flood does
  // not cause must stay out of the log, since the dropped count counts every line dropped, and
  // one more would exceed the flood's: so the CPU limit is lifted (a flood that ran into it,
  // 20,000 lines taking longer than 50 ms under ASan, would log an error), and so is the health
  // timeout (a Pong late behind a flood under ASan logged "worker missed a health check", and
  // the full pipe dropped it: 400,001 against 400,000 in a CI run).
  start({"--admin-listen", "127.0.0.1:0", "--health-interval", "200", "--health-timeout", "60000",
         "--cpu-limit", "10000"});
  std::string admin = adminUrl();
  constexpr int kFlooders = 4;
  constexpr int kFloodsEach = 5;
  constexpr int kLinesPerFlood = 20000;

  std::atomic<int> floodsDone{0};
  std::atomic<int> floodOk{0};
  std::vector<std::thread> flooders;
  for (int i = 0; i < kFlooders; ++i) {
    flooders.emplace_back([&] {
      for (int n = 0; n < kFloodsEach; ++n) {
        auto r = httpRequest(
            "GET", server_->baseUrl() + "/flood?n=" + std::to_string(kLinesPerFlood), {}, {}, 60s);
        if (r.status == 200) ++floodOk;
        ++floodsDone;
      }
    });
  }
  // While the floods run, the server, its control socket and its admin listener answer.
  ASSERT_TRUE(server_->waitForLine(
      [](const std::string& l) { return l.find("flood-line") != std::string::npos; }));
  int probes = 0;
  while (floodsDone < kFlooders * kFloodsEach && probes < 20) {
    auto started = Clock::now();
    auto r = httpRequest("GET", server_->baseUrl() + "/ok", {}, {}, 5s);
    EXPECT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(ctl({"status"}).exitCode, 0);
    EXPECT_EQ(httpGet(admin + "/healthz").status, 200);
    EXPECT_LT(Clock::now() - started, 5s);
    ++probes;
  }
  for (auto& t : flooders)
    t.join();
  EXPECT_GE(probes, 1) << "the floods ended before the server could be probed under load";
  EXPECT_EQ(floodOk, kFlooders * kFloodsEach);

  // Every console line is either in the log or counted as dropped, never silently lost, and
  // the log is bounded: the dropped count is what keeps a flood from backing everything up.
  const uint64_t emitted = uint64_t{kFlooders} * kFloodsEach * kLinesPerFlood;
  uint64_t logged = 0, dropped = 0;
  bool balanced = eventually([&] {
    dropped = status().value("dropped_log_lines", uint64_t{0});
    logged = server_->countLines("flood-line");
    return logged + dropped >= emitted;
  });
  EXPECT_TRUE(balanced) << "logged " << logged << " + dropped " << dropped << " < " << emitted;
  EXPECT_LE(logged + dropped, emitted) << "logged " << logged << " dropped " << dropped;
  EXPECT_GT(dropped, 0u) << "a flood of " << emitted << " lines dropped none";
  // The same count is exported as a metric.
  HttpResult metrics = httpGet(admin + "/metrics");
  EXPECT_NE(metrics.body.find("isolated_dropped_log_lines_total " + std::to_string(dropped)),
            std::string::npos)
      << metrics.body;
  EXPECT_EQ(httpGet(server_->baseUrl() + "/ok").status, 200);
}

// The control socket never waits on a worker: with every worker stopped (SIGSTOP) and requests
// stuck on them, status and workers still answer at once.
TEST_F(CtlTest, StatusAnswersWhileEveryWorkerIsHung) {
  start({}, 2);
  json before = workers();
  ASSERT_EQ(before.size(), 2u);
  std::vector<pid_t> pids;
  for (const auto& w : before)
    pids.push_back(w.value("pid", 0));
  for (pid_t pid : pids)
    ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  std::vector<std::thread> stuck;
  for (int i = 0; i < 4; ++i) {
    stuck.emplace_back([&] { httpRequest("GET", server_->baseUrl() + "/ok", {}, {}, 3s); });
  }
  EXPECT_TRUE(eventually([&] { return status().value("in_flight", 0) >= 4; })) << server_->output();
  CtlResult table = ctl({"workers"});
  EXPECT_EQ(table.exitCode, 0) << describe(table);
  for (pid_t pid : pids)
    EXPECT_NE(table.out.find(std::to_string(pid)), std::string::npos);
  for (pid_t pid : pids)
    ::kill(pid, SIGCONT);
  for (auto& t : stuck)
    t.join();
}

}  // namespace
}  // namespace isolated::test
