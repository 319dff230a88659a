// Open-file limit and the default connection cap: see descriptor_budget.h.
#include "supervisor/descriptor_budget.h"

#include <sys/resource.h>

#include <algorithm>

namespace isolated::supervisor {

namespace {

// Event loop, signals, listeners, logs, snapshot helper and the like.
constexpr uint64_t kFixedDescriptors = 64;
// Per worker: its channel, its log pipe, a pidfd and a spare for a replacement being spawned.
constexpr uint64_t kDescriptorsPerWorker = 4;
constexpr uint32_t kFewestConnections = 16;
// A cap beyond any use (and within 32 bits).
constexpr uint64_t kMostConnections = 1u << 24;

}  // namespace

uint64_t raiseOpenFileLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised{limit.rlim_max, limit.rlim_max};
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return limit.rlim_cur == RLIM_INFINITY ? UINT64_MAX : static_cast<uint64_t>(limit.rlim_cur);
}

uint32_t defaultMaxConnections(uint64_t openFiles, uint32_t maxWorkers) {
  uint64_t reserved = kFixedDescriptors + kDescriptorsPerWorker * uint64_t{maxWorkers};
  uint64_t left = openFiles > reserved ? openFiles - reserved : 0;
  uint64_t connections = std::min<uint64_t>(left / 4 * 3, kMostConnections);
  return static_cast<uint32_t>(std::max<uint64_t>(connections, kFewestConnections));
}

}  // namespace isolated::supervisor
