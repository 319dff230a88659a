// The supervisor's descriptor budget: at start-up the soft RLIMIT_NOFILE is raised to the hard
// limit, and the default --max-connections is what that leaves once the supervisor's own
// descriptors are set aside (workers' channels and pipes, fetches, the admin and control
// listeners and their clients, logs, the event loop).
#pragma once

#include <cstdint>

namespace isolated::supervisor {

// Raises the soft open-file limit to the hard one (when it is lower) and returns the soft limit
// now in force (RLIM_INFINITY as UINT64_MAX).
uint64_t raiseOpenFileLimit();

// Client connections for `openFiles` descriptors and up to `maxWorkers` workers: a quarter of
// what the supervisor's fixed needs leave goes to fetches and operators' connections. At least 16.
uint32_t defaultMaxConnections(uint64_t openFiles, uint32_t maxWorkers);

}  // namespace isolated::supervisor
