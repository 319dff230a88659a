// Fair order of one batch of supervisor messages: the order in which a worker handles the frames
// it read together. Pure policy, tested alone; WorkerLoop classifies the messages and delivers
// them in this order.
//
// Why: a worker handles its messages one after another on one thread, so a request of a light
// app that arrives in the same read as a burst of a heavy app's messages would otherwise wait
// for all of them (issue 13: a hello-world app beside one hammering KV). Within a batch the apps
// take turns, one message each per round, and in every round the apps with fewer requests
// active in the worker go first: a light app's request starts after at most one message of each
// heavier app, however many of theirs were queued.
//
// Invariants: messages of one app keep their relative order (so every request's messages do);
// a barrier (a message of no app: Configure, LoadApp, Ping, Shutdown, an id the worker cannot
// place) keeps its position, and nothing moves across it.
// Threading: none; a FairOrder is used by one thread and keeps its scratch between batches.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <vector>

namespace isolated::worker {

struct BatchEntry {
  static constexpr uint32_t kBarrier = std::numeric_limits<uint32_t>::max();
  // The app (deployment id) the message belongs to, or kBarrier.
  uint32_t app = kBarrier;
  // The app's requests active in the worker when the batch was read; fewer goes first.
  uint32_t load = 0;
};

class FairOrder {
 public:
  // Fills `order` with the indices of `entries` in delivery order (a permutation).
  void order(std::span<const BatchEntry> entries, std::vector<uint32_t>& order);

 private:
  struct Run {
    uint32_t app;
    uint32_t load;
    uint32_t first;  // the app's first index in the segment: breaks load ties, as arrived
    uint32_t begin;  // its indices, in byApp_[begin, end)
    uint32_t end;
  };
  void orderSegment(std::span<const BatchEntry> entries, uint32_t begin, uint32_t end,
                    std::vector<uint32_t>& order);

  std::vector<uint32_t> byApp_;
  std::vector<Run> runs_;
};

}  // namespace isolated::worker
