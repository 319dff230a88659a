// The part of the worker sandbox applied in the child between fork and exec: descriptors,
// identity, capabilities, no-new-privs, resource limits, a user namespace. Everything here is
// a raw system call: the supervisor may have threads, so the child may only make
// async-signal-safe calls, and glibc's set*id wrappers would try to reach threads the child
// does not have.
#pragma once

#include <sys/types.h>

#include "common/sandbox_plan.h"

namespace isolated::sandbox {

// Starts a child like fork(), inside new namespaces when plan->cloneFlags asks for them (the
// pid namespace can only be entered at clone time). Returns the pid in the parent, 0 in the
// child, -1 with errno on failure.
pid_t cloneChild(const SandboxPlan* plan);

// Closes every descriptor above `keepUpTo`: what a launching shell or the supervisor's other
// parts left open must not reach a worker.
void closeDescriptorsAbove(int keepUpTo);

// Applies `plan` to the calling (child) process. Returns 0, or the errno of the step that
// failed with *step naming it (a static string).
int applyInChild(const SandboxPlan& plan, const char** step);

// Writes "isolated: worker sandbox: STEP: errno N\n" to stderr; async-signal-safe.
void reportChildFailure(const char* step, int err);

}  // namespace isolated::sandbox
