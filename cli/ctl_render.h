// Human-readable rendering of control-socket replies for `isolated ctl` (see
// docs/control-protocol.md). Pure functions from a reply object to text: they never throw on a
// missing or mistyped field (it shows as "-"), so a newer or older server still renders.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>

namespace isolated {

// `{"ok":true,"status":{...}}` as aligned "key: value" lines.
std::string renderStatus(const nlohmann::json& reply);

// `{"ok":true,"workers":[...]}` as a table, one row per worker ordered by slot then id, followed
// by a legend and a line naming the largest, the slowest and the most-restarted worker.
std::string renderWorkers(const nlohmann::json& reply);
// The `apps` reply as a table, one row per app, and the last load error of each app that has
// one.
std::string renderApps(const nlohmann::json& reply);

// One summary line for `ctl top` from a status reply.
std::string renderTopSummary(const nlohmann::json& statusReply);

// 42s, 5m03s, 2h05m, 3d04h: two units at most, for tables.
std::string formatDuration(double seconds);

// Bytes as MiB with one decimal ("50.0").
std::string formatMiB(uint64_t bytes);

}  // namespace isolated
