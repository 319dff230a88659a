// Deadlines of many things (requests, by id), earliest first, so that what is due is found
// without scanning everything that has a deadline: a binary min-heap in one vector, which
// allocates only when it outgrows its largest size so far (no allocation per entry in a steady
// state).
//
// Entries are removed lazily: the owner does not remove the deadline of a thing that ended
// early; it filters what popDue() returns (the thing may be gone) and calls compact() now and
// then, which drops the entries of things that are gone. Ties between equal deadlines go to the
// smaller id, so that the order is deterministic.
//
// Threading: none; the owner's thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "common/clock.h"

namespace isolated {

class DeadlineQueue {
 public:
  using time_point = Clock::time_point;

  void add(time_point deadline, uint64_t id) {
    heap_.push_back({deadline, id});
    std::push_heap(heap_.begin(), heap_.end(), later);
  }
  // The earliest deadline held (possibly of a thing already gone).
  std::optional<time_point> earliest() const {
    if (heap_.empty()) return std::nullopt;
    return heap_.front().deadline;
  }
  // Appends to `out`, earliest first, the ids whose deadline is at or before `now`, and
  // removes them.
  void popDue(time_point now, std::vector<uint64_t>& out) {
    while (!heap_.empty() && heap_.front().deadline <= now) {
      out.push_back(heap_.front().id);
      std::pop_heap(heap_.begin(), heap_.end(), later);
      heap_.pop_back();
    }
  }
  // Drops every entry whose id `live(id)` says is gone. O(size).
  template <class Live>
  void compact(Live&& live) {
    std::erase_if(heap_, [&](const Entry& entry) { return !live(entry.id); });
    std::make_heap(heap_.begin(), heap_.end(), later);
  }
  size_t size() const { return heap_.size(); }
  bool empty() const { return heap_.empty(); }

 private:
  struct Entry {
    time_point deadline;
    uint64_t id;
  };
  // The heap's order: std::*_heap keep the greatest on top, so "greater" is the later deadline.
  static bool later(const Entry& a, const Entry& b) {
    return a.deadline != b.deadline ? a.deadline > b.deadline : a.id > b.id;
  }
  std::vector<Entry> heap_;
};

}  // namespace isolated
