// planBackground (background_plan.h).
#include "supervisor/pool/background_plan.h"

#include <algorithm>

namespace isolated {

void planBackground(std::span<WorkerLoad> workers) {
  // A light app somewhere is what there is to protect; without one, nothing yields.
  bool lightInUse = std::any_of(workers.begin(), workers.end(),
                                [](const WorkerLoad& w) { return w.inUse && !w.onlyHeavy; });
  for (WorkerLoad& w : workers)
    w.background = lightInUse && w.inUse && w.onlyHeavy;
}

}  // namespace isolated
