// Least-outstanding selection with a rotating tie-break.
#include "supervisor/dispatcher.h"

namespace isolated::supervisor {

std::optional<size_t> Dispatcher::pick(const std::vector<DispatchCandidate>& candidates) {
  const size_t n = candidates.size();
  if (n == 0) return std::nullopt;
  std::optional<size_t> best;
  size_t start = cursor_ % n;
  for (size_t k = 0; k < n; ++k) {
    size_t i = (start + k) % n;
    const auto& c = candidates[i];
    if (!c.accepting || c.outstanding >= c.capacity) continue;
    if (!best || c.outstanding < candidates[*best].outstanding) best = i;
  }
  if (best) cursor_ = *best + 1;
  return best;
}

}  // namespace isolated::supervisor
