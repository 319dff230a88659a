// The accepted ranges of the limits that both `serve` flags and [[app]] tables set, in one
// place so that a config file and the command line agree.
#pragma once

#include <cstdint>

namespace isolated {

struct LimitRange {
  uint64_t min;
  uint64_t max;
};

inline constexpr LimitRange kCpuLimitMsRange{1, 3600000};
inline constexpr LimitRange kWallLimitMsRange{1, 86400000};
inline constexpr LimitRange kHeapLimitMbRange{16, 16384};
// An app's requests in flight across the server (0: no per-app bound).
inline constexpr LimitRange kAppMaxConcurrentRange{0, 1000000};
// Cron schedules of one app (or of a single-script server).
inline constexpr uint64_t kMaxCronsPerApp = 100;

}  // namespace isolated
