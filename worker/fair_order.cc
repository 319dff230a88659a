// Per-app round robin over one batch of messages, lighter apps first in each round.
#include "worker/fair_order.h"

#include <algorithm>

namespace isolated::worker {

void FairOrder::order(std::span<const BatchEntry> entries, std::vector<uint32_t>& order) {
  order.clear();
  order.reserve(entries.size());
  uint32_t begin = 0;
  const auto size = static_cast<uint32_t>(entries.size());
  for (uint32_t i = 0; i < size; ++i) {
    if (entries[i].app != BatchEntry::kBarrier) continue;
    orderSegment(entries, begin, i, order);
    order.push_back(i);
    begin = i + 1;
  }
  orderSegment(entries, begin, size, order);
}

void FairOrder::orderSegment(std::span<const BatchEntry> entries, uint32_t begin, uint32_t end,
                             std::vector<uint32_t>& order) {
  if (end - begin < 2) {
    if (end > begin) order.push_back(begin);
    return;
  }
  // Group the segment's indices by app, each group in arrival order: sorted by (app, index),
  // which is what a stable sort by app gives, in place (std::stable_sort's temporary buffer
  // allocates, and GCC 12's trips ASan's alloc-dealloc check: docs/fuzzing.md).
  byApp_.resize(end - begin);
  for (uint32_t i = begin; i < end; ++i)
    byApp_[i - begin] = i;
  std::sort(byApp_.begin(), byApp_.end(), [&](uint32_t a, uint32_t b) {
    if (entries[a].app != entries[b].app) return entries[a].app < entries[b].app;
    return a < b;
  });
  runs_.clear();
  for (uint32_t k = 0; k < byApp_.size(); ++k) {
    const BatchEntry& e = entries[byApp_[k]];
    if (runs_.empty() || runs_.back().app != e.app) {
      runs_.push_back(Run{e.app, e.load, byApp_[k], k, k + 1});
    } else {
      runs_.back().end = k + 1;
    }
  }
  if (runs_.size() == 1) {
    for (uint32_t i = begin; i < end; ++i)
      order.push_back(i);
    return;
  }
  std::sort(runs_.begin(), runs_.end(), [](const Run& a, const Run& b) {
    return a.load != b.load ? a.load < b.load : a.first < b.first;
  });
  // Rounds: one message of each app that has one left, in the order just sorted.
  size_t left = byApp_.size();
  while (left > 0) {
    for (Run& run : runs_) {
      if (run.begin == run.end) continue;
      order.push_back(byApp_[run.begin++]);
      --left;
    }
  }
}

}  // namespace isolated::worker
