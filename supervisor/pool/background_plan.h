// BackgroundPlan: which workers run at background CPU priority (--background-heavy-apps;
// issue 13, docs/multi-tenancy.md "Background priority").
//
// A worker goes to the background when every app using it (requests outstanding there, or sent
// there within the neighbour window) is *heavy* — it has more requests in flight than one
// worker is meant to take (the placement's spread threshold) or it recently ran into its CPU
// limit — while some *light* app is using another worker. Placement already keeps a light
// app's worker free of a heavy app's requests (SpreadPolicy::kOntoIdle); what the two still
// share is the CPU. At background priority (SCHED_IDLE) the heavy worker's threads run on
// whatever CPU the light apps' workers and the supervisor leave, and a light app's worker,
// woken by its next request, takes a core from it at once instead of waiting for its slice to
// end. With no light app in use nothing is backgrounded: heavy apps among themselves share
// the CPU as usual.
//
// Pure policy over the loads it is given; the owner reads them and applies the result.
// Threading: none (no state).
#pragma once

#include <span>

namespace isolated {

// One worker as the plan sees it.
struct WorkerLoad {
  // Some app uses the worker (requests outstanding, or sent one within the neighbour window).
  bool inUse = false;
  // Every app using it is heavy. Meaningless when !inUse.
  bool onlyHeavy = false;
  // The plan's answer: whether the worker should run at background priority.
  bool background = false;
};

// Sets every worker's `background`.
void planBackground(std::span<WorkerLoad> workers);

}  // namespace isolated
