// CPU scheduling policy of a whole process, set from outside it: every thread of a process
// (another process of this one's, a worker) at SCHED_IDLE — it runs only on CPU that no
// normal thread wants, and a normal thread that wakes takes the core from it at once — or back
// at SCHED_OTHER. Used for --background-heavy-apps (supervisor/pool/background_plan.h).
//
// Privileges: lowering a process of the same user to SCHED_IDLE needs none; a process of
// another user (a sandboxed worker runs as --user) needs CAP_SYS_NICE, and so does the way back
// to SCHED_OTHER unless RLIMIT_NICE allows nice 0 (sched(7)). The owner checks
// canRestoreNormalPriority() before lowering anything, so that no process is left at idle
// priority for good.
//
// Threading: any thread; no state.
#pragma once

#include <sys/types.h>

#include <span>
#include <vector>

namespace isolated {

// Whether this process may take a thread back from SCHED_IDLE to SCHED_OTHER (nice 0):
// CAP_SYS_NICE in its effective set, or an RLIMIT_NICE of at least 20.
bool canRestoreNormalPriority();

// The thread ids of process `pid`, from /proc/PID/task, into `tids` (replaced). Returns 0, or
// ESRCH when the process is gone, or the errno of the listing.
int threadsOf(pid_t pid, std::vector<pid_t>& tids);

// Sets every thread of process `pid` (threadsOf) to SCHED_IDLE when
// `background`, else SCHED_OTHER. A thread that exits meanwhile is skipped; a thread created
// later inherits the policy of the thread that creates it. Returns 0, or the errno of the first
// thread that could not be changed (the others are still tried); ESRCH when the process is gone.
int setProcessBackground(pid_t pid, bool background);

// As setProcessBackground, for the threads `tids` (of this process, or any other).
int setThreadsBackground(std::span<const pid_t> tids, bool background);

// Whether thread or process `tid` runs at SCHED_IDLE (false when it cannot be read).
bool runsInBackground(pid_t tid);

}  // namespace isolated
