// Placement: which worker takes an app's next request. Pure policy over a snapshot of the
// workers, tested alone; the pool owns the workers and calls pick() per request.
//
// Rendezvous (highest-random-weight) hashing of the app's key over the workers' slots gives
// every app its own order of workers. Its *home* workers are the first H accepting ones in that
// order, H = max(1, ceil(appOutstanding / spreadThreshold)) capped at the accepting workers: an
// app stays on one worker (one isolate, one cold start, one copy of its memory) until its load
// asks for more. Among home workers with room the least outstanding wins (ties: hash order);
// when none has room, the request overflows to the next workers in the app's order.
//
// With SpreadPolicy::kOntoIdle (the server's policy; issue 13), an app's homes after its first
// are the next workers in its order that no other app is using (has requests outstanding on,
// or sent requests to lately: PlacementCandidate::otherApps): an app spreads into spare
// workers, never onto a neighbour's, so a hammering app cannot make a light app queue behind
// it on the light app's worker. The first home is always its first worker,
// shared or not (several apps may hash onto one worker). When its homes have no room the app
// still overflows, in its order, to any worker with room (workers no other app uses first): the
// bound is the workers' capacity (--worker-queue-size), never a per-app cap, so an app whose
// requests wait on I/O is not limited.
//
// Slots, not worker ids, are hashed: a replacement worker takes its predecessor's slot and so
// its apps. Adding or removing one slot moves only the apps whose order it enters or leaves
// the top of (about 1/N of them).
//
// Threading: stateless after construction; pick() is const and allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string_view>

namespace isolated {

// One worker as placement sees it.
struct PlacementCandidate {
  // Stable number for hashing (the pool's slot index, reused by a replacement worker).
  uint32_t slot = 0;
  // Ready and not draining: only these are homes or overflow targets.
  bool accepting = false;
  // Requests the worker holds, and how many it may hold (--worker-queue-size).
  uint32_t outstanding = 0;
  uint32_t capacity = 0;
  // This app's requests on this worker (outstanding - appOutstanding are other apps').
  uint32_t appOutstanding = 0;
  // Other apps that have used this worker recently (requests outstanding or sent lately), for
  // SpreadPolicy::kOntoIdle: a worker is a neighbour's while this or outstanding -
  // appOutstanding is above zero.
  uint32_t otherApps = 0;
};

// A candidate's rank for one app; pick() fills a caller-provided span of these.
struct PlacementRank {
  uint64_t weight = 0;
  uint32_t index = 0;  // into the candidates
};

// Whether an app's extra homes may be workers that other apps are using.
enum class SpreadPolicy {
  kOntoAny,   // yes: homes are the first H workers in the app's order, whatever they hold
  kOntoIdle,  // no: extra homes are the next workers in the app's order no other app uses
};

class Placement {
 public:
  static constexpr uint32_t kDefaultSpreadThreshold = 16;
  // `spreadThreshold`: an app's outstanding requests per home worker before it spreads to one
  // more (at least 1).
  explicit Placement(uint32_t spreadThreshold = kDefaultSpreadThreshold,
                     SpreadPolicy policy = SpreadPolicy::kOntoAny);

  // The app's hash key, from its name (FNV-1a then a 64-bit finalizer): the same on every run
  // and every machine, unlike std::hash.
  static uint64_t appKey(std::string_view appName);
  // The rendezvous weight of `slot` for the app: higher ranks first.
  static uint64_t weight(uint64_t appKey, uint32_t slot);

  // Orders the accepting candidates by the app's hash (highest weight first; equal weights by
  // slot) into `scratch`, and returns how many there are. `scratch` must hold at least
  // candidates.size() entries.
  static size_t rank(uint64_t appKey, std::span<const PlacementCandidate> candidates,
                     std::span<PlacementRank> scratch);

  // How many home workers an app with `appOutstanding` requests in flight (across the server)
  // has, given `accepting` candidates.
  uint32_t homeCount(uint32_t appOutstanding, size_t accepting) const;

  // The index (into `candidates`) of the worker for the app's next request, or nullopt when no
  // accepting worker has room. `appCapacity` bounds the app's requests on one worker (1 when
  // each request needs its own context or isolate; unbounded by default). `scratch` as rank().
  std::optional<size_t> pick(uint64_t appKey, uint32_t appOutstanding,
                             std::span<const PlacementCandidate> candidates,
                             std::span<PlacementRank> scratch,
                             uint32_t appCapacity = std::numeric_limits<uint32_t>::max()) const;

  uint32_t spreadThreshold() const { return spreadThreshold_; }
  SpreadPolicy spreadPolicy() const { return policy_; }

 private:
  // pick() for an app of several homes under kOntoIdle; `ranked` as weigh() left it.
  std::optional<size_t> pickOntoIdle(std::span<const PlacementCandidate> candidates,
                                     std::span<PlacementRank> ranked, size_t homes,
                                     uint32_t appCapacity) const;
  // The first of `ranked` (in order) with room for the app, when its homes have none.
  std::optional<size_t> overflow(std::span<const PlacementCandidate> candidates,
                                 std::span<const PlacementRank> ranked, uint32_t appCapacity) const;

  uint32_t spreadThreshold_;
  SpreadPolicy policy_;
};

}  // namespace isolated
