// The supervisor's request state, with one owner: the ids it issues, the HTTP requests whose
// inline body is still arriving, the requests in flight on a worker, the recent answers (for
// waitUntil() work that logs or fetches after its answer), the subrequest counts of
// --max-subrequests, each request's storage binding calls and the depth of service-binding
// requests. The Supervisor keeps the
// orchestration (admission, queues, placement, the answers themselves); this class keeps the
// books, and every request in flight leaves them through finish().
//
// Invariants:
// - Ids come from nextId(), start at 1 and are never reused: an id a worker names that was never
//   issued is refused (issued()), and a late message about a finished request finds nothing.
// - A request is in at most one place: reading (not yet routed), an app's queue (the Supervisor
//   holds those), or in flight here. start() takes it in flight; only finish() takes it out.
// - finish() ends a request in flight exactly once: it removes the request, then tells the owner
//   (Owner::releaseRequest(const FinishedRequest&)) once, so that the worker's slot and the
//   app's counters are given back once per request. A second finish() of the same id (an answer
//   crossing a cancel, a wall limit crossing an answer) finds nothing, returns false and releases
//   nothing. Together with the answer the Supervisor gives before finish() (its replyError,
//   replyFromWorker or a streamed answer's end), this is the rule "every accepted request is
//   answered exactly once": requests leave by finish() only, and finish() runs once.
// - Recent answers hold at most kRecentAnswers entries and service depths at most
//   kServiceDepthMemory (bounded FIFOs, oldest out first).
// - A request's storage call count is in the record that holds it (storageCalls()): copied into
//   its recent answer, lingering record and subrequest count when it is answered, gone with
//   the last of them.
// - A request answered with waitUntil() work pending lingers (linger()) until its deadline and
//   no longer: pruneLingering() drops what is due, oldest first, without a scan; at most
//   kMaxLingering linger at once.
// - A subrequest count outlives its request (waitUntil() work may still fetch) until
//   pruneSubrequests() finds it stale or its worker is lost (forgetWorker()).
// - Every request started has its wall deadline (arrived + wallLimit) in a deadline queue, so
//   the requests past it are found without a scan (takeExpired()); deadlines of requests that
//   ended are dropped lazily and the queue holds at most about twice the requests in flight
//   (plus kDeadlineSlack), compacted as it grows: no per-request allocation in a steady state.
//
// finish() is a template on its owner so that the release is a direct (inlinable) call on the
// hot path, not a virtual one; the Supervisor is the owner, tests use a fake one.
//
// Lifetime: owned by the Supervisor. The PendingRequests held point at Apps, which outlive their
// requests (AppRegistry). Threading: the supervisor's loop only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/deadline_queue.h"
#include "supervisor/pending_request.h"

namespace isolated::supervisor::requests {

// How a request in flight ended, for the owner's release.
struct RequestEnding {
  enum class Kind : uint8_t {
    // Answered (by its worker's Response, or by the supervisor for it): the worker's slot is
    // free and the request counts toward --max-requests.
    kAnswered,
    // Abandoned while its worker may still run it (client gone, wall limit, broken response):
    // the worker gets RequestCancel and the request's fetches fail with `cancelReason`.
    kCancelled,
    // Its worker is gone: nothing to tell it; the caller clears the worker's accounting whole.
    kWorkerLost,
    // The server stops now: likewise, the caller clears every worker's accounting.
    kForcedStop,
  };
  Kind kind = Kind::kAnswered;
  const char* cancelReason = nullptr;  // kCancelled only; outlives the finish() call

  static constexpr RequestEnding answered() { return {Kind::kAnswered, nullptr}; }
  static constexpr RequestEnding cancelled(const char* reason) {
    return {Kind::kCancelled, reason};
  }
  static constexpr RequestEnding workerLost() { return {Kind::kWorkerLost, nullptr}; }
  static constexpr RequestEnding forcedStop() { return {Kind::kForcedStop, nullptr}; }
  // Answered, or cancelled with `reason` when it is not null.
  static constexpr RequestEnding answeredOrCancelled(const char* reason) {
    return reason == nullptr ? answered() : cancelled(reason);
  }
};

// What the owner's release learns of a request that has ended (the request itself is gone).
struct FinishedRequest {
  uint64_t id;
  uint32_t workerId;
  uint32_t deployment;
  App* app;
  bool noisy;
  RequestEnding ending;
};

// An answered request, remembered a while after its answer.
struct RecentAnswer {
  std::string requestId;
  uint32_t workerId;
  uint32_t deployment;
  uint32_t storageCalls = 0;
};

// A request answered while its waitUntil() work was pending (Response.waitUntilPending): held
// for that work until `until`, however many answers come after it.
struct LingeringRequest {
  using Clock = std::chrono::steady_clock;
  uint32_t workerId;
  uint32_t deployment;
  Clock::time_point until;
  uint32_t storageCalls = 0;
};

// Fetches started for one parent request, for --max-subrequests.
struct SubrequestCount {
  using Clock = std::chrono::steady_clock;
  uint32_t workerId;
  uint32_t deployment;
  uint32_t started;
  Clock::time_point lastStart;
  // Storage binding calls, once the request has been answered (PendingRequest::storageCalls
  // before): waitUntil() work that fetches may still call storage.
  uint32_t storageCalls = 0;
};

class RequestTracker {
 public:
  using Clock = std::chrono::steady_clock;

  static constexpr size_t kRecentAnswers = 4096;
  static constexpr size_t kServiceDepthMemory = 4096;
  // Lingering requests kept at most (about 5 MB): an app that calls waitUntil() on every
  // request at tens of thousands of requests a second would otherwise have the supervisor keep
  // a record per request for --wait-until-timeout. Past it the earliest to expire goes first,
  // and its work is then held like any answer (its recent answer, its subrequest count).
  static constexpr size_t kMaxLingering = 65536;
  // Stale deadlines tolerated beyond the requests in flight before a compaction.
  static constexpr size_t kDeadlineSlack = 1024;

  // ---- ids ----
  uint64_t nextId() { return nextId_++; }
  // Whether `id` names a request this tracker has issued (finished or not).
  bool issued(uint64_t id) const { return id != 0 && id < nextId_; }

  // ---- requests whose inline body is still arriving (not yet routed) ----
  void startReading(PendingRequest&& request);
  PendingRequest* findReading(uint64_t id);
  // Moves the request out of reading (to be routed); nullopt when it is not reading.
  std::optional<PendingRequest> takeReading(uint64_t id);
  // The client left before its body arrived: the request is dropped. False when not reading.
  bool dropReading(uint64_t id);
  // Calls `f(PendingRequest&)` for each, then drops them all (a forced stop answers them).
  template <class F>
  void drainReading(F&& f) {
    for (auto& [id, request] : reading_)
      f(request);
    reading_.clear();
  }
  size_t readingCount() const { return reading_.size(); }

  // ---- requests in flight ----
  // Takes a request that has been sent to a worker (workerId and deployment set).
  PendingRequest& start(PendingRequest&& request);
  PendingRequest* find(uint64_t id) {
    auto it = inFlight_.find(id);
    return it == inFlight_.end() ? nullptr : &it->second;
  }
  // The request in flight with `id` when `workerId` holds it: what a worker's message about a
  // request may touch. Null for another worker's request or one already finished.
  PendingRequest* findHeldBy(uint64_t id, uint32_t workerId) {
    PendingRequest* request = find(id);
    return request != nullptr && request->workerId == workerId ? request : nullptr;
  }
  bool inFlight(uint64_t id) const { return inFlight_.contains(id); }
  size_t inFlightCount() const { return inFlight_.size(); }
  // No request in flight and none whose body is arriving (the queues are the Supervisor's).
  bool idle() const { return inFlight_.empty() && reading_.empty(); }
  // The ids of requests in flight past their wall limit at `now`, into `out` (cleared first).
  // A scan of every request in flight (for checks); the supervisor uses takeExpired().
  void expired(Clock::time_point now, std::vector<uint64_t>& out) const;
  // The ids of requests in flight past their wall limit at `now`, earliest deadline first,
  // into `out` (cleared first); their deadlines leave the queue. Costs what is due (and the
  // stale deadlines of requests already ended), not what is in flight.
  void takeExpired(Clock::time_point now, std::vector<uint64_t>& out);
  // The earliest wall deadline still queued (possibly of a request that has ended: then
  // takeExpired() at that time finds nothing and the next deadline is asked again).
  std::optional<Clock::time_point> nextDeadline() const { return deadlines_.earliest(); }
  size_t deadlineCount() const { return deadlines_.size(); }
  // The ids of every request in flight, into `out` (cleared first).
  void inFlightIds(std::vector<uint64_t>& out) const;

  // Ends request `id` in flight: removes it, then calls owner.releaseRequest() once. Returns
  // false (and releases nothing) when no such request is in flight.
  template <class Owner>
  bool finish(uint64_t id, RequestEnding ending, Owner& owner) {
    auto it = inFlight_.find(id);
    if (it == inFlight_.end()) return false;
    const PendingRequest& request = it->second;
    FinishedRequest done{id,          request.workerId, request.deployment,
                         request.app, request.noisy,    ending};
    recycle(inFlight_.extract(it));
    owner.releaseRequest(done);
    return true;
  }

  // ---- recent answers ----
  // Remembers that `request` was answered, held by `workerId` (0: it never reached a worker).
  // A request answered twice is remembered once.
  void rememberAnswer(const PendingRequest& request, uint32_t workerId);
  const RecentAnswer* recent(uint64_t id) const;
  size_t recentCount() const { return recentOrder_.size(); }
  // The client-visible id of request `id`, in flight or answered recently; empty otherwise.
  std::string_view requestIdOf(uint64_t id) const;
  // Whether request `id` is (or was recently, or lingers for its waitUntil() work, or still has
  // subrequests counted) held by worker `workerId` for deployment `deployment`: the check every
  // fetch and binding call of a worker passes.
  bool holds(uint32_t workerId, uint32_t deployment, uint64_t id) const;
  // The storage binding calls made by request `id` when holds() is true for it, or null: the
  // count in the first of its records that exists, in the order in flight, lingering,
  // subrequest count, recent answer (the later ones usually outlive the earlier). So the
  // per-request counts live exactly as long as a request may still call, in records that are
  // bounded (no map of every request that ever called storage). After the answer, only the
  // record asked first is counted on; a record asked later keeps the count as of the answer,
  // and is asked only once the earlier one is gone, when the request's work has normally ended
  // (a request without pending waitUntil() work ends with its answer; a lingering one at the
  // worker's deadline), unless the lingering cap let its record go early.
  uint32_t* storageCalls(uint32_t workerId, uint32_t deployment, uint64_t id);

  // ---- requests whose waitUntil() work outlives their answer ----
  // Holds request `request` (in flight, held by `workerId`) until `until` for its waitUntil()
  // work. Call before its answer is remembered; `until` must not go back between calls.
  void linger(const PendingRequest& request, uint32_t workerId, Clock::time_point until);
  // Drops the lingering requests whose time is up at `now`.
  void pruneLingering(Clock::time_point now);
  size_t lingeringCount() const { return lingering_.size(); }

  // ---- subrequests (--max-subrequests) ----
  // The count of `parentId`, made (with none started) when it has none yet.
  SubrequestCount& subrequests(uint64_t parentId, uint32_t workerId, uint32_t deployment,
                               Clock::time_point now);
  // Drops the counts of finished requests whose last fetch started more than `horizon` ago.
  // `now` must not go back between calls (the steady clock); it looks only at counts last
  // looked at more than `horizon` ago, so its cost is the counts due, not the counts kept.
  void pruneSubrequests(Clock::time_point now, Clock::duration horizon);
  // Drops the counts of a lost worker's requests.
  void forgetWorker(uint32_t workerId);
  size_t subrequestCount() const { return subrequests_.size(); }

  // ---- service-binding depth ----
  // How many service calls deep request `id` is (0: not a service request, or forgotten).
  uint32_t serviceDepth(uint64_t id) const;
  void rememberServiceDepth(uint64_t id, uint32_t depth);

 private:
  using InFlightMap = std::unordered_map<uint64_t, PendingRequest>;
  // Ends the request in `node` as erasing it would (what it owns is released now) and keeps the
  // node for the next start(), up to kSpareNodes: a node allocation per request saved.
  void recycle(InFlightMap::node_type node);
  static constexpr size_t kSpareNodes = 256;

  uint64_t nextId_ = 1;
  InFlightMap inFlight_;
  std::vector<InFlightMap::node_type> spareNodes_;
  DeadlineQueue deadlines_;
  std::unordered_map<uint64_t, PendingRequest> reading_;
  std::unordered_map<uint64_t, RecentAnswer> recentAnswers_;
  std::deque<uint64_t> recentOrder_;
  std::unordered_map<uint64_t, LingeringRequest> lingering_;
  std::deque<std::pair<Clock::time_point, uint64_t>> lingeringOrder_;  // by `until`
  std::unordered_map<uint64_t, SubrequestCount> subrequests_;
  // When each count is next due a look by pruneSubrequests(), in time order: one entry per count
  // (and, briefly, per count a lost worker took with it).
  std::deque<std::pair<Clock::time_point, uint64_t>> subrequestChecks_;
  std::unordered_map<uint64_t, uint32_t> serviceDepths_;
  std::deque<uint64_t> serviceDepthOrder_;
};

}  // namespace isolated::supervisor::requests
