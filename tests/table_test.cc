// Unit tests of the pure parts of `isolated ctl`: the text table, the rendering of status and
// workers replies (including replies with missing or mistyped fields), option parsing, the
// default socket path and the request lines.
#include "cli/table.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "cli/ctl.h"
#include "cli/ctl_render.h"

namespace isolated {
namespace {

using nlohmann::json;

std::vector<std::string> linesOf(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

// The value of the "key: value" line for `key`, without the alignment padding.
std::string valueOf(const std::string& text, const std::string& key) {
  for (const auto& line : linesOf(text)) {
    if (line.rfind(key + ":", 0) != 0) continue;
    auto start = line.find_first_not_of(' ', key.size() + 1);
    return start == std::string::npos ? "" : line.substr(start);
  }
  return "<no " + key + ">";
}

EnvLookup envFrom(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// ---- TextTable -----------------------------------------------------------------------------

TEST(TextTable, PadsColumnsToWidestCellAndAligns) {
  TextTable table({{"NAME", TextTable::Align::kLeft}, {"N", TextTable::Align::kRight}});
  table.addRow({"a", "1"});
  table.addRow({"longer", "12345"});
  EXPECT_EQ(table.render(),
            "NAME        N\n"
            "a           1\n"
            "longer  12345\n");
}

TEST(TextTable, NoTrailingSpacesAndShortRowsArePadded) {
  TextTable table({{"A", TextTable::Align::kLeft}, {"B", TextTable::Align::kLeft}});
  table.addRow({"xyz"});
  table.addRow({"x", "y", "dropped"});
  for (const auto& line : linesOf(table.render())) {
    EXPECT_FALSE(!line.empty() && line.back() == ' ') << "'" << line << "'";
  }
  EXPECT_EQ(table.render(), "A    B\nxyz\nx    y\n");
  EXPECT_EQ(table.rowCount(), 2u);
}

TEST(TextTable, WidthCountsCodePointsNotBytes) {
  EXPECT_EQ(displayWidth("abc"), 3u);
  EXPECT_EQ(displayWidth("µs"), 2u);
  TextTable table({{"U", TextTable::Align::kLeft}, {"V", TextTable::Align::kLeft}});
  table.addRow({"µµ", "x"});
  table.addRow({"ab", "y"});
  auto lines = linesOf(table.render());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1], "µµ  x");
  EXPECT_EQ(lines[2], "ab  y");
}

TEST(TextTable, HeaderOnlyWhenEmpty) {
  TextTable table({{"ID", TextTable::Align::kRight}, {"STATE", TextTable::Align::kLeft}});
  EXPECT_EQ(table.render(), "ID  STATE\n");
}

// ---- formatting helpers --------------------------------------------------------------------

TEST(CtlRender, Durations) {
  EXPECT_EQ(formatDuration(0), "0s");
  EXPECT_EQ(formatDuration(42.9), "42s");
  EXPECT_EQ(formatDuration(303), "5m03s");
  EXPECT_EQ(formatDuration(2 * 3600 + 5 * 60 + 7), "2h05m");
  EXPECT_EQ(formatDuration(3 * 86400 + 4 * 3600), "3d04h");
  EXPECT_EQ(formatDuration(-1), "-");
}

TEST(CtlRender, MiBWithOneDecimal) {
  EXPECT_EQ(formatMiB(0), "0.0");
  EXPECT_EQ(formatMiB(52428800), "50.0");
  EXPECT_EQ(formatMiB(134217728), "128.0");
  EXPECT_EQ(formatMiB(1024 * 1024 * 3 / 2), "1.5");
}

// ---- status --------------------------------------------------------------------------------

const char* kStatusReply = R"({"ok":true,"status":{
  "version":"0.1.0","pid":1234,"uptime_s":7512.5,"script":"/srv/worker.js","isolation":"shared",
  "state":"serving","workers":4,"target":4,"min_workers":2,"max_workers":8,
  "requests_total":1200,"responses":{"2xx":1190,"3xx":0,"4xx":5,"5xx":5},
  "in_flight":3,"queued":0,"listen":"127.0.0.1:8080",
  "restarts":{"crash":1,"memory":0,"health":0,"max-requests":0,"reload":4,"scale-down":0,
              "memory-hard":0},
  "limit_terminations":{"cpu-limit":3,"memory-limit":0},
  "dropped_log_lines":17,"io_threads":2,"connections_open":34,"connections_accepted":5120,
  "future_field":"x","future_counts":{"a":1,"b":2}}})";

TEST(CtlRender, StatusIsAlignedKeyValueLines) {
  std::string out = renderStatus(json::parse(kStatusReply));
  auto lines = linesOf(out);
  ASSERT_FALSE(lines.empty());
  // Every value starts in the same column.
  size_t valueColumn = std::string::npos;
  for (const auto& line : lines) {
    auto colon = line.find(": ");
    ASSERT_NE(colon, std::string::npos) << line;
    size_t column = line.find_first_not_of(' ', colon + 1);
    if (valueColumn == std::string::npos) valueColumn = column;
    EXPECT_EQ(column, valueColumn) << line;
  }
  EXPECT_NE(out.find("state:"), std::string::npos);
  EXPECT_NE(out.find("serving"), std::string::npos);
  EXPECT_NE(out.find("2h05m (7512 s)"), std::string::npos) << out;
  EXPECT_NE(out.find("2xx 1190  3xx 0  4xx 5  5xx 5"), std::string::npos) << out;
  EXPECT_NE(out.find("5 (crash 1, reload 4)"), std::string::npos) << out;
  EXPECT_NE(out.find("4 serving, target 4 (min 2, max 8)"), std::string::npos) << out;
  EXPECT_EQ(valueOf(out, "dropped log lines"), "17") << out;
  EXPECT_EQ(valueOf(out, "connections"), "34 open, 5120 accepted (2 I/O threads)") << out;
  EXPECT_EQ(out.find("io_threads"), std::string::npos) << out;
  EXPECT_EQ(valueOf(out, "limit terminations"), "3 (cpu-limit 3)") << out;
  // Fields this client does not know still show.
  EXPECT_NE(out.find("future_field:"), std::string::npos) << out;
  EXPECT_NE(out.find("3 (a 1, b 2)"), std::string::npos) << out;
}

TEST(CtlRender, ShortUptimeHasNoSecondsRepeat) {
  std::string out = renderStatus(json::parse(R"({"ok":true,"status":{"uptime_s":2.5}})"));
  EXPECT_NE(out.find("uptime:"), std::string::npos);
  EXPECT_NE(out.find(" 2s\n"), std::string::npos) << out;
}

TEST(CtlRender, StatusToleratesMissingAndMistypedFields) {
  std::string out = renderStatus(json::parse(R"({"ok":true,"status":{"state":7,"pid":"x"}})"));
  EXPECT_NE(out.find("state:"), std::string::npos);
  EXPECT_NE(out.find("uptime:"), std::string::npos);
  EXPECT_NO_THROW(renderStatus(json::parse(R"({"ok":true})")));
  EXPECT_NO_THROW(renderStatus(json::parse(R"({"ok":true,"status":[1,2]})")));
  EXPECT_NO_THROW(renderStatus(json::parse("[]")));
}

// ---- workers -------------------------------------------------------------------------------

const char* kWorkersReply = R"({"ok":true,"workers":[
  {"id":9,"slot":2,"pid":4300,"state":"ready","uptime_s":4.2,"requests_served":3,
   "in_flight":0,"rss_bytes":41943040,"heap_used_bytes":3145728,"heap_limit_bytes":134217728,
   "health":"ok","event_loop_lag_ms":0.2,"restarts":3,"last_exit_reason":"memory",
   "cpu_limit_terminations":0,"memory_limit_terminations":1,"retiring":""},
  {"id":7,"slot":1,"pid":4242,"state":"draining","uptime_s":3630,"requests_served":512,
   "in_flight":2,"rss_bytes":220200960,"heap_used_bytes":120586240,
   "heap_limit_bytes":134217728,"health":"late","event_loop_lag_ms":153.46,"restarts":0,
   "last_exit_reason":"","cpu_limit_terminations":4,"memory_limit_terminations":0,
   "retiring":"memory"}]})";

TEST(CtlRender, WorkersTableHasHeaderAndOneRowPerWorkerBySlot) {
  std::string out = renderWorkers(json::parse(kWorkersReply));
  auto lines = linesOf(out);
  ASSERT_GE(lines.size(), 3u) << out;
  const std::vector<std::string> headers = {"ID",        "SLOT",      "PID",
                                            "STATE",     "UPTIME",    "SERVED",
                                            "INFLIGHT",  "RSS",       "HEAP(used/limit)",
                                            "HEALTH",    "LAG",       "RESTARTS",
                                            "LAST-EXIT", "CPU-KILLS", "MEM-KILLS",
                                            "ISOLATES"};
  std::istringstream header(lines[0]);
  std::vector<std::string> seen;
  for (std::string word; header >> word;)
    seen.push_back(word);
  EXPECT_EQ(seen, headers);

  // Slot 1 (worker 7) first, then slot 2 (worker 9).
  std::istringstream first(lines[1]);
  std::vector<std::string> row;
  for (std::string cell; first >> cell;)
    row.push_back(cell);
  ASSERT_EQ(row.size(), headers.size()) << lines[1];
  EXPECT_EQ(row[0], "7");
  EXPECT_EQ(row[1], "1");
  EXPECT_EQ(row[3], "draining(memory)");
  EXPECT_EQ(row[4], "1h00m");
  EXPECT_EQ(row[7], "210.0");
  EXPECT_EQ(row[8], "115.0/128.0");
  EXPECT_EQ(row[9], "late");
  EXPECT_EQ(row[10], "153.5");
  EXPECT_EQ(row[12], "-");
  EXPECT_EQ(row[13], "4");

  std::istringstream second(lines[2]);
  row.clear();
  for (std::string cell; second >> cell;)
    row.push_back(cell);
  ASSERT_EQ(row.size(), headers.size()) << lines[2];
  EXPECT_EQ(row[0], "9");
  EXPECT_EQ(row[11], "3");
  EXPECT_EQ(row[12], "memory");
  EXPECT_EQ(row[14], "1");

  // The summary answers "which worker is fat, slow, restarting" without reading every row.
  EXPECT_EQ(valueOf(out, "largest"), "worker 7 (RSS 210.0 MiB, heap 115.0/128.0 MiB)") << out;
  EXPECT_EQ(valueOf(out, "slowest"), "worker 7 (lag 153.5 ms, health late)") << out;
  EXPECT_EQ(valueOf(out, "most restarts"), "slot 2 (3, last memory)") << out;
}

TEST(CtlRender, WorkersColumnsLineUp) {
  auto lines = linesOf(renderWorkers(json::parse(kWorkersReply)));
  // Right-aligned RSS column: each row's RSS cell ends where the header "RSS" ends.
  size_t end = lines[0].find("RSS") + 3;
  for (size_t i = 1; i <= 2; ++i) {
    ASSERT_GE(lines[i].size(), end);
    EXPECT_NE(lines[i][end - 1], ' ') << lines[i];
    EXPECT_EQ(lines[i][end], ' ') << lines[i];
  }
}

TEST(CtlRender, WorkerWithoutPongShowsUnknownHeapAndLag) {
  std::string out = renderWorkers(json::parse(R"({"ok":true,"workers":[
    {"id":1,"slot":1,"pid":10,"state":"starting","uptime_s":0.1,"requests_served":0,
     "in_flight":0,"rss_bytes":1048576,"heap_used_bytes":0,"heap_limit_bytes":0,
     "health":"pending","event_loop_lag_ms":0.0,"restarts":0,"last_exit_reason":"",
     "cpu_limit_terminations":0,"memory_limit_terminations":0,"retiring":""}]})"));
  auto lines = linesOf(out);
  ASSERT_GE(lines.size(), 2u);
  std::istringstream row(lines[1]);
  std::vector<std::string> cells;
  for (std::string cell; row >> cell;)
    cells.push_back(cell);
  ASSERT_EQ(cells.size(), 16u) << lines[1];
  EXPECT_EQ(cells[8], "-");
  EXPECT_EQ(cells[9], "pending");
  EXPECT_EQ(cells[10], "-");
  // No lag measured: nobody is called slowest; the heap is not quoted as 0/0.
  EXPECT_EQ(out.find("slowest"), std::string::npos) << out;
  EXPECT_EQ(valueOf(out, "largest"), "worker 1 (RSS 1.0 MiB)") << out;
}

TEST(CtlRender, NoWorkersAndBrokenWorkers) {
  std::string empty = renderWorkers(json::parse(R"({"ok":true,"workers":[]})"));
  EXPECT_EQ(linesOf(empty).size(), 2u);
  EXPECT_NE(empty.find("(no workers)"), std::string::npos);

  std::string odd = renderWorkers(json::parse(R"({"ok":true,"workers":[{"id":"x"},{}]})"));
  auto lines = linesOf(odd);
  ASSERT_GE(lines.size(), 3u);
  EXPECT_NE(lines[1].find('-'), std::string::npos);
  EXPECT_NO_THROW(renderWorkers(json::parse(R"({"ok":true,"workers":{}})")));
  EXPECT_NO_THROW(renderWorkers(json::parse("null")));
}

TEST(CtlRender, TopSummary) {
  std::string line = renderTopSummary(json::parse(kStatusReply));
  EXPECT_NE(line.find("serving"), std::string::npos);
  EXPECT_NE(line.find("workers 4/4"), std::string::npos) << line;
  EXPECT_NE(line.find("5xx 5"), std::string::npos) << line;
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
}

// ---- options -------------------------------------------------------------------------------

CtlOptions parseOk(const std::vector<std::string>& args,
                   const std::map<std::string, std::string>& env = {}, uid_t uid = 1000) {
  auto result = parseCtlOptions(args, envFrom(env), uid);
  if (auto* error = std::get_if<CtlUsageError>(&result)) {
    ADD_FAILURE() << "unexpected usage error: " << error->message;
    return {};
  }
  if (std::holds_alternative<CtlHelp>(result)) {
    ADD_FAILURE() << "unexpected help";
    return {};
  }
  return std::get<CtlOptions>(result);
}

std::string usageError(const std::vector<std::string>& args) {
  auto result = parseCtlOptions(args, envFrom({}), 1000);
  if (auto* error = std::get_if<CtlUsageError>(&result)) return error->message;
  ADD_FAILURE() << "expected a usage error";
  return {};
}

TEST(CtlOptions, DefaultSocketPath) {
  EXPECT_EQ(defaultControlSocketPath(envFrom({{"XDG_RUNTIME_DIR", "/run/user/1000"}}), 0),
            "/run/isolated/isolated.sock");
  EXPECT_EQ(defaultControlSocketPath(envFrom({{"XDG_RUNTIME_DIR", "/run/user/1000"}}), 1000),
            "/run/user/1000/isolated.sock");
  EXPECT_EQ(defaultControlSocketPath(envFrom({}), 1000), "/tmp/isolated-1000/isolated.sock");
  EXPECT_EQ(defaultControlSocketPath(envFrom({{"XDG_RUNTIME_DIR", ""}}), 42),
            "/tmp/isolated-42/isolated.sock");
}

TEST(CtlOptions, SocketFromFlagThenEnvironmentThenDefault) {
  EXPECT_EQ(parseOk({"status"}).socketPath, "/tmp/isolated-1000/isolated.sock");
  EXPECT_EQ(parseOk({"status"}, {{"ISOLATED_CONTROL_SOCKET", "/e.sock"}}).socketPath, "/e.sock");
  EXPECT_EQ(parseOk({"--socket", "/f.sock", "status"}, {{"ISOLATED_CONTROL_SOCKET", "/e.sock"}})
                .socketPath,
            "/f.sock");
}

TEST(CtlOptions, CommandsAndArguments) {
  auto o = parseOk({"--json", "workers"});
  EXPECT_TRUE(o.json);
  EXPECT_EQ(o.command, "workers");
  EXPECT_FALSE(o.argument);

  o = parseOk({"restart", "7"});
  EXPECT_EQ(o.command, "restart");
  EXPECT_EQ(o.argument, 7u);
  EXPECT_FALSE(o.json);

  o = parseOk({"scale", "3", "--json"});
  EXPECT_EQ(o.argument, 3u);
  EXPECT_TRUE(o.json);

  o = parseOk({"top", "--iterations", "2"});
  EXPECT_EQ(o.iterations, 2u);
  EXPECT_EQ(parseOk({"top"}).iterations, 0u);
}

TEST(CtlOptions, UsageErrors) {
  EXPECT_EQ(usageError({}), "missing command");
  EXPECT_EQ(usageError({"frobnicate"}), "unknown command 'frobnicate'");
  EXPECT_EQ(usageError({"restart"}), "restart: expected a worker id");
  EXPECT_EQ(usageError({"restart", "seven"}), "restart: expected a worker id, got 'seven'");
  EXPECT_EQ(usageError({"scale", "2x"}), "scale: expected a number of workers, got '2x'");
  EXPECT_EQ(usageError({"status", "extra"}), "status: unexpected argument 'extra'");
  EXPECT_EQ(usageError({"restart", "1", "2"}), "restart: unexpected argument '2'");
  EXPECT_EQ(usageError({"status", "--iterations", "2"}), "--iterations applies to top only");
  EXPECT_FALSE(usageError({"top", "--iterations", "0"}).empty());
  EXPECT_FALSE(usageError({"--bogus", "status"}).empty());
}

TEST(CtlOptions, Help) {
  auto result = parseCtlOptions({"--help"}, envFrom({}), 1000);
  auto* help = std::get_if<CtlHelp>(&result);
  ASSERT_NE(help, nullptr);
  EXPECT_NE(help->text.find("restart ID"), std::string::npos);
  EXPECT_NE(help->text.find("--socket"), std::string::npos);
}

TEST(CtlOptions, RequestLines) {
  auto line = [](const std::vector<std::string>& args) {
    return json::parse(ctlRequestLine(parseOk(args)));
  };
  EXPECT_EQ(line({"status"}), json::parse(R"({"cmd":"status"})"));
  EXPECT_EQ(line({"restart", "7"}), json::parse(R"({"cmd":"restart","id":7})"));
  EXPECT_EQ(line({"scale", "3"}), json::parse(R"({"cmd":"scale","workers":3})"));
  EXPECT_EQ(line({"drain"}), json::parse(R"({"cmd":"drain"})"));
  EXPECT_EQ(ctlRequestLine(parseOk({"metrics"})).find('\n'), std::string::npos);
}

TEST(CtlOptions, SaveGoesWithDeployAndUndeployOnly) {
  auto deploy = json::parse(ctlRequestLine(parseOk({"deploy", "n", "/srv/n.js", "--save"})));
  EXPECT_EQ(deploy["save"], true);
  EXPECT_EQ(json::parse(ctlRequestLine(parseOk({"undeploy", "n", "--save"}))),
            json::parse(R"({"cmd":"undeploy","name":"n","save":true})"));
  EXPECT_FALSE(json::parse(ctlRequestLine(parseOk({"undeploy", "n"}))).contains("save"));
  EXPECT_EQ(usageError({"reload", "--save"}), "--save applies to deploy and undeploy only");
}

TEST(CtlOptions, DeployBindingFlagsGoAbsoluteAndWhole) {
  const std::string cwd = std::filesystem::current_path().string();
  auto o = parseOk({"deploy", "n", "/srv/n.js", "--kv", "KV=kv.db", "--kv",
                    "PG=postgres://u@h1,h2/db", "--storage", "FILES=file:files", "--service",
                    "AUTH=auth", "--var", "LIST=a,b", "--kv", "BAD=ftp://x"});
  EXPECT_EQ(o.bindings.kv, (std::vector<std::string>{"KV=sqlite:" + cwd + "/kv.db",
                                                     "PG=postgres://u@h1,h2/db", "BAD=ftp://x"}));
  EXPECT_EQ(o.bindings.storage, (std::vector<std::string>{"FILES=file:" + cwd + "/files"}));
  EXPECT_EQ(o.bindings.services, (std::vector<std::string>{"AUTH=auth"}));
  EXPECT_TRUE(o.bindings.databases.empty());
  EXPECT_EQ(o.vars, (std::vector<std::string>{"LIST=a,b"}));

  auto request = json::parse(ctlRequestLine(o));
  EXPECT_EQ(request["kv"].size(), 3u);
  EXPECT_EQ(request["services"], json::array({"AUTH=auth"}));
  EXPECT_FALSE(request.contains("databases"));  // a kind not named is kept by the server
  EXPECT_FALSE(json::parse(ctlRequestLine(parseOk({"deploy", "n", "/srv/n.js"}))).contains("kv"));

  EXPECT_EQ(usageError({"status", "--kv", "KV=x.db"}),
            "--route, --var, --secrets-file, --kv, --database, --storage and --service apply to "
            "deploy only");
  auto result = parseCtlOptions({"--help"}, envFrom({}), 1000);
  EXPECT_NE(std::get<CtlHelp>(result).text.find("any --kv replaces all the app's KV"),
            std::string::npos);
}

}  // namespace
}  // namespace isolated
