// Rendering of status and workers replies. Every field access goes through the helpers at the
// top, which tolerate absent or mistyped fields.
#include "cli/ctl_render.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <set>
#include <vector>

#include "cli/table.h"

namespace isolated {

namespace {

using nlohmann::json;

constexpr const char* kMissing = "-";

// Restart reasons in the order an operator reads them: failures first, then planned recycles.
const std::vector<std::string> kRestartReasons = {
    "crash", "memory-hard", "memory", "health", "max-requests", "reload", "scale-down"};
const std::vector<std::string> kLimitKinds = {"cpu-limit", "memory-limit", "wall-limit",
                                              "context-reset"};

const json* field(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<double> number(const json& object, const char* key) {
  const json* value = field(object, key);
  if (value == nullptr || !value->is_number()) return std::nullopt;
  return value->get<double>();
}

std::optional<uint64_t> count(const json& object, const char* key) {
  const json* value = field(object, key);
  if (value == nullptr || !value->is_number()) return std::nullopt;
  if (value->is_number_unsigned()) return value->get<uint64_t>();
  double d = value->get<double>();
  if (d < 0) return std::nullopt;
  return static_cast<uint64_t>(std::llround(d));
}

std::string text(const json& object, const char* key) {
  const json* value = field(object, key);
  if (value == nullptr) return kMissing;
  if (value->is_string()) {
    const auto& s = value->get_ref<const std::string&>();
    return s.empty() ? kMissing : s;
  }
  if (value->is_number_integer() || value->is_boolean()) return value->dump();
  if (value->is_number()) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.1f", value->get<double>());
    return buffer;
  }
  return value->dump();
}

std::string countText(const json& object, const char* key) {
  auto n = count(object, key);
  return n ? std::to_string(*n) : kMissing;
}

std::string oneDecimal(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", value);
  return buffer;
}

std::string mibText(const json& object, const char* key) {
  auto n = count(object, key);
  return n ? formatMiB(*n) : kMissing;
}

// "5 (crash 1, reload 4)": the total, then the non-zero counts, those named in `order` first
// and the rest (reasons this client does not know) alphabetically.
std::string breakdownText(const json& counts, const std::vector<std::string>& order) {
  if (!counts.is_object()) return kMissing;
  uint64_t total = 0;
  std::string parts;
  auto add = [&](const std::string& key, uint64_t n) {
    total += n;
    if (n == 0) return;
    if (!parts.empty()) parts += ", ";
    parts += key + " " + std::to_string(n);
  };
  for (const auto& key : order)
    add(key, count(counts, key.c_str()).value_or(0));
  std::set<std::string> others;
  for (const auto& [key, value] : counts.items()) {
    if (std::find(order.begin(), order.end(), key) == order.end()) others.insert(key);
  }
  for (const auto& key : others)
    add(key, count(counts, key.c_str()).value_or(0));
  return parts.empty() ? std::to_string(total) : std::to_string(total) + " (" + parts + ")";
}

std::string restartsText(const json& restarts) {
  return breakdownText(restarts, kRestartReasons);
}

std::string responsesText(const json& responses) {
  if (!responses.is_object()) return kMissing;
  std::string out;
  for (const char* cls : {"2xx", "3xx", "4xx", "5xx"}) {
    if (!out.empty()) out += "  ";
    out += std::string(cls) + " " + countText(responses, cls);
  }
  return out;
}

const json& emptyObject() {
  static const json empty = json::object();
  return empty;
}

const json& member(const json& object, const char* key) {
  const json* value = field(object, key);
  return value != nullptr ? *value : emptyObject();
}

}  // namespace

std::string formatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return kMissing;
  auto s = static_cast<uint64_t>(seconds);
  char buffer[48];
  if (s < 60) {
    std::snprintf(buffer, sizeof buffer, "%llus", static_cast<unsigned long long>(s));
  } else if (s < 3600) {
    std::snprintf(buffer, sizeof buffer, "%llum%02llus", static_cast<unsigned long long>(s / 60),
                  static_cast<unsigned long long>(s % 60));
  } else if (s < 86400) {
    std::snprintf(buffer, sizeof buffer, "%lluh%02llum", static_cast<unsigned long long>(s / 3600),
                  static_cast<unsigned long long>(s % 3600 / 60));
  } else {
    std::snprintf(buffer, sizeof buffer, "%llud%02lluh", static_cast<unsigned long long>(s / 86400),
                  static_cast<unsigned long long>(s % 86400 / 3600));
  }
  return buffer;
}

std::string formatMiB(uint64_t bytes) {
  return oneDecimal(static_cast<double>(bytes) / (1024.0 * 1024.0));
}

std::string renderStatus(const json& reply) {
  const json& status = member(reply, "status");
  std::vector<std::pair<std::string, std::string>> lines;

  lines.emplace_back("state", text(status, "state"));
  lines.emplace_back("version", text(status, "version"));
  lines.emplace_back("pid", countText(status, "pid"));
  auto uptime = number(status, "uptime_s");
  std::string uptimeText = uptime ? formatDuration(*uptime) : kMissing;
  if (uptime && *uptime >= 60) {
    uptimeText += " (" + std::to_string(static_cast<uint64_t>(*uptime)) + " s)";
  }
  lines.emplace_back("uptime", uptimeText);
  // A single-script server names its script; a --config server its file and how many apps.
  if (std::string config = text(status, "config"); config != kMissing) {
    lines.emplace_back("config", config);
    lines.emplace_back("apps", countText(status, "apps"));
  } else {
    lines.emplace_back("script", text(status, "script"));
  }
  lines.emplace_back("isolation", text(status, "isolation"));
  lines.emplace_back("listen", text(status, "listen"));
  lines.emplace_back("workers", countText(status, "workers") + " serving, target " +
                                    countText(status, "target") + " (min " +
                                    countText(status, "min_workers") + ", max " +
                                    countText(status, "max_workers") + ")");
  lines.emplace_back("requests", countText(status, "requests_total"));
  lines.emplace_back("responses", responsesText(member(status, "responses")));
  if (field(status, "connections_open") != nullptr) {
    // Servers before --io-threads have no connection figures.
    std::string threads = countText(status, "io_threads");
    lines.emplace_back("connections", countText(status, "connections_open") + " open, " +
                                          countText(status, "connections_accepted") +
                                          " accepted (" + threads + " I/O thread" +
                                          (threads == "1" ? ")" : "s)"));
  }
  lines.emplace_back("in flight", countText(status, "in_flight"));
  lines.emplace_back("queued", countText(status, "queued"));
  lines.emplace_back("restarts", restartsText(member(status, "restarts")));
  if (const json* limits = field(status, "limit_terminations")) {
    lines.emplace_back("limit terminations", breakdownText(*limits, kLimitKinds));
  }
  lines.emplace_back("dropped log lines", countText(status, "dropped_log_lines"));

  // Scalars a newer server adds are shown as they are, so nothing is hidden from the operator.
  static const std::set<std::string> kShown = {"state",
                                               "version",
                                               "pid",
                                               "uptime_s",
                                               "script",
                                               "config",
                                               "apps",
                                               "isolation",
                                               "listen",
                                               "workers",
                                               "target",
                                               "min_workers",
                                               "max_workers",
                                               "requests_total",
                                               "responses",
                                               "in_flight",
                                               "queued",
                                               "restarts",
                                               "dropped_log_lines",
                                               "limit_terminations",
                                               "connections_open",
                                               "connections_accepted",
                                               "io_threads"};
  if (status.is_object()) {
    for (const auto& [key, value] : status.items()) {
      if (kShown.contains(key) || value.is_array()) continue;
      lines.emplace_back(key,
                         value.is_object() ? breakdownText(value, {}) : text(status, key.c_str()));
    }
  }

  size_t width = 0;
  for (const auto& [key, value] : lines)
    width = std::max(width, key.size());
  std::string out;
  for (const auto& [key, value] : lines) {
    out += key + ":";
    out.append(width - key.size() + 1, ' ');
    out += value + "\n";
  }
  return out;
}

std::string renderWorkers(const json& reply) {
  using Align = TextTable::Align;
  TextTable table({{"ID", Align::kRight},
                   {"SLOT", Align::kRight},
                   {"PID", Align::kRight},
                   {"STATE", Align::kLeft},
                   {"UPTIME", Align::kRight},
                   {"SERVED", Align::kRight},
                   {"INFLIGHT", Align::kRight},
                   {"RSS", Align::kRight},
                   {"HEAP(used/limit)", Align::kRight},
                   {"HEALTH", Align::kLeft},
                   {"LAG", Align::kRight},
                   {"RESTARTS", Align::kRight},
                   {"LAST-EXIT", Align::kLeft},
                   {"CPU-KILLS", Align::kRight},
                   {"MEM-KILLS", Align::kRight},
                   {"ISOLATES", Align::kRight}});

  std::vector<const json*> workers;
  if (const json* list = field(reply, "workers"); list != nullptr && list->is_array()) {
    for (const auto& w : *list)
      workers.push_back(&w);
  }
  // A replacement takes over its predecessor's slot, so slot order keeps the two together.
  // (slot, id) is unique per worker, so a plain sort is stable enough.
  std::sort(workers.begin(), workers.end(), [](const json* a, const json* b) {
    auto key = [](const json* w) {
      return std::pair(count(*w, "slot").value_or(UINT64_MAX), count(*w, "id").value_or(0));
    };
    return key(a) < key(b);
  });

  const json* largest = nullptr;
  const json* slowest = nullptr;
  double slowestLagMs = 0;  // a worker is "slowest" only with some lag
  const json* mostRestarted = nullptr;
  for (const json* w : workers) {
    std::string state = text(*w, "state");
    if (std::string retiring = text(*w, "retiring"); retiring != kMissing) {
      state += "(" + retiring + ")";
    }
    auto uptime = number(*w, "uptime_s");
    // Heap and lag come from the worker's health Pong: unknown until the first one.
    const bool ponged = text(*w, "health") != "pending";
    // Negative: not measured yet.
    const double lagMs = ponged ? number(*w, "event_loop_lag_ms").value_or(-1) : -1;
    std::string heap = count(*w, "heap_limit_bytes").value_or(0) > 0
                           ? mibText(*w, "heap_used_bytes") + "/" + mibText(*w, "heap_limit_bytes")
                           : kMissing;
    table.addRow({countText(*w, "id"), countText(*w, "slot"), countText(*w, "pid"), state,
                  uptime ? formatDuration(*uptime) : kMissing, countText(*w, "requests_served"),
                  countText(*w, "in_flight"), mibText(*w, "rss_bytes"), heap, text(*w, "health"),
                  lagMs >= 0 ? oneDecimal(lagMs) : kMissing, countText(*w, "restarts"),
                  text(*w, "last_exit_reason"), countText(*w, "cpu_limit_terminations"),
                  countText(*w, "memory_limit_terminations"), countText(*w, "isolates")});

    if (count(*w, "rss_bytes").value_or(0) > 0 &&
        (largest == nullptr || *count(*w, "rss_bytes") > *count(*largest, "rss_bytes"))) {
      largest = w;
    }
    if (lagMs > slowestLagMs) {
      slowest = w;
      slowestLagMs = lagMs;
    }
    if (count(*w, "restarts").value_or(0) > 0 &&
        (mostRestarted == nullptr || *count(*w, "restarts") > *count(*mostRestarted, "restarts"))) {
      mostRestarted = w;
    }
  }

  std::string out = table.render();
  if (workers.empty()) {
    out += "(no workers)\n";
    return out;
  }
  out +=
      "\nRSS and HEAP in MiB, LAG (event-loop lag) in ms; RESTARTS and LAST-EXIT describe the "
      "slot.\n";
  // One line per question, aligned: who is fat, who is slow, which slot keeps restarting.
  std::vector<std::pair<std::string, std::string>> notes;
  if (largest != nullptr) {
    std::string note =
        "worker " + countText(*largest, "id") + " (RSS " + mibText(*largest, "rss_bytes") + " MiB";
    if (count(*largest, "heap_limit_bytes").value_or(0) > 0) {
      note += ", heap " + mibText(*largest, "heap_used_bytes") + "/" +
              mibText(*largest, "heap_limit_bytes") + " MiB";
    }
    notes.emplace_back("largest", note + ")");
  }
  if (slowest != nullptr) {
    notes.emplace_back("slowest", "worker " + countText(*slowest, "id") + " (lag " +
                                      oneDecimal(slowestLagMs) + " ms, health " +
                                      text(*slowest, "health") + ")");
  }
  if (mostRestarted != nullptr) {
    notes.emplace_back("most restarts", "slot " + countText(*mostRestarted, "slot") + " (" +
                                            countText(*mostRestarted, "restarts") + ", last " +
                                            text(*mostRestarted, "last_exit_reason") + ")");
  }
  size_t width = 0;
  for (const auto& [label, value] : notes)
    width = std::max(width, label.size());
  for (const auto& [label, value] : notes)
    out += label + ":" + std::string(width - label.size() + 1, ' ') + value + "\n";
  return out;
}

std::string renderApps(const json& reply) {
  using Align = TextTable::Align;
  TextTable table({{"APP", Align::kLeft},
                   {"STATE", Align::kLeft},
                   {"VERSION", Align::kRight},
                   {"ROUTES", Align::kLeft},
                   {"WORKERS", Align::kLeft},
                   {"ISOLATES", Align::kRight},
                   {"REQUESTS", Align::kRight},
                   {"5XX", Align::kRight},
                   {"INFLIGHT", Align::kRight},
                   {"COLD", Align::kRight},
                   {"EVICTED", Align::kRight},
                   {"P50", Align::kRight},
                   {"P99", Align::kRight},
                   {"CPU", Align::kRight}});
  const json* list = field(reply, "apps");
  size_t rows = 0;
  std::vector<std::string> errors;
  if (list != nullptr && list->is_array()) {
    for (const auto& app : *list) {
      auto join = [&](const char* key) {
        std::string out;
        if (const json* items = field(app, key); items != nullptr && items->is_array()) {
          for (const auto& item : *items) {
            if (!out.empty()) out += ",";
            out += item.is_string() ? item.get<std::string>() : item.dump();
          }
        }
        return out.empty() ? std::string(kMissing) : out;
      };
      auto ms = [&](const char* key) {
        auto value = number(app, key);
        return value ? oneDecimal(*value) : std::string(kMissing);
      };
      table.addRow({text(app, "name"), text(app, "state"), countText(app, "version"),
                    join("routes"), join("workers"), countText(app, "isolates"),
                    countText(app, "requests"), countText(app, "errors_5xx"),
                    countText(app, "in_flight"), countText(app, "cold_starts"),
                    countText(app, "evictions"), ms("p50_ms"), ms("p99_ms"), ms("cpu_ms")});
      if (std::string error = text(app, "last_error"); error != kMissing) {
        errors.push_back(text(app, "name") + ": " + error);
      }
      ++rows;
    }
  }
  std::string out = table.render();
  if (rows == 0) return out + "(no apps)\n";
  out += "\nP50, P99 (latency) and CPU in ms; WORKERS hold an isolate of the live version.\n";
  for (const auto& error : errors)
    out += "last load error of " + error + "\n";
  return out;
}

std::string renderTopSummary(const json& statusReply) {
  const json& status = member(statusReply, "status");
  auto uptime = number(status, "uptime_s");
  const json& responses = member(status, "responses");
  return "isolated " + text(status, "version") + "  pid " + countText(status, "pid") + "  " +
         text(status, "state") + "  up " + (uptime ? formatDuration(*uptime) : kMissing) +
         "  workers " + countText(status, "workers") + "/" + countText(status, "target") +
         "  requests " + countText(status, "requests_total") + "  5xx " +
         countText(responses, "5xx") + "  in flight " + countText(status, "in_flight") +
         "  queued " + countText(status, "queued") + "  restarts " +
         restartsText(member(status, "restarts")) + "\n";
}

}  // namespace isolated
