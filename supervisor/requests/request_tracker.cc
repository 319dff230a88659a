// RequestTracker: the books of the supervisor's requests (see request_tracker.h).
#include "supervisor/requests/request_tracker.h"

#include <utility>

namespace isolated::supervisor::requests {

void RequestTracker::startReading(PendingRequest&& request) {
  uint64_t id = request.id;
  reading_.emplace(id, std::move(request));
}

PendingRequest* RequestTracker::findReading(uint64_t id) {
  auto it = reading_.find(id);
  return it == reading_.end() ? nullptr : &it->second;
}

std::optional<PendingRequest> RequestTracker::takeReading(uint64_t id) {
  auto it = reading_.find(id);
  if (it == reading_.end()) return std::nullopt;
  std::optional<PendingRequest> request(std::move(it->second));
  reading_.erase(it);
  return request;
}

bool RequestTracker::dropReading(uint64_t id) {
  return reading_.erase(id) > 0;
}

PendingRequest& RequestTracker::start(PendingRequest&& request) {
  uint64_t id = request.id;
  if (deadlines_.size() >= 2 * inFlight_.size() + kDeadlineSlack) {
    deadlines_.compact([this](uint64_t live) { return inFlight_.contains(live); });
  }
  deadlines_.add(request.arrived + request.wallLimit, id);
  if (spareNodes_.empty()) return inFlight_.emplace(id, std::move(request)).first->second;
  InFlightMap::node_type node = std::move(spareNodes_.back());
  spareNodes_.pop_back();
  node.key() = id;
  node.mapped() = std::move(request);
  return inFlight_.insert(std::move(node)).position->second;
}

void RequestTracker::recycle(InFlightMap::node_type node) {
  // Assigning a fresh request destroys what the old one owned (its client link, its service
  // call) at once, as erase() would; its strings keep their buffers.
  node.mapped() = PendingRequest{};
  if (spareNodes_.size() < kSpareNodes) spareNodes_.push_back(std::move(node));
}

void RequestTracker::takeExpired(Clock::time_point now, std::vector<uint64_t>& out) {
  out.clear();
  deadlines_.popDue(now, out);
  std::erase_if(out, [&](uint64_t id) {
    auto it = inFlight_.find(id);
    return it == inFlight_.end() || now - it->second.arrived < it->second.wallLimit;
  });
}

void RequestTracker::expired(Clock::time_point now, std::vector<uint64_t>& out) const {
  out.clear();
  for (const auto& [id, request] : inFlight_) {
    if (now - request.arrived >= request.wallLimit) out.push_back(id);
  }
}

void RequestTracker::inFlightIds(std::vector<uint64_t>& out) const {
  out.clear();
  out.reserve(inFlight_.size());
  for (const auto& [id, request] : inFlight_)
    out.push_back(id);
}

void RequestTracker::rememberAnswer(const PendingRequest& request, uint32_t workerId) {
  if (recentAnswers_.contains(request.id)) return;
  // Once the books are full the oldest answer's node, and its request id's buffer, take the new
  // answer: no allocation per answer in a server that has been up a while.
  decltype(recentAnswers_)::node_type node;
  if (recentOrder_.size() >= kRecentAnswers) {
    node = recentAnswers_.extract(recentOrder_.front());
    recentOrder_.pop_front();
  }
  if (node) {
    node.key() = request.id;
    RecentAnswer& answer = node.mapped();
    answer.requestId.assign(request.requestId);
    answer.workerId = workerId;
    answer.deployment = request.deployment;
    answer.storageCalls = request.storageCalls;
    recentAnswers_.insert(std::move(node));
  } else {
    recentAnswers_.emplace(request.id, RecentAnswer{request.requestId, workerId, request.deployment,
                                                    request.storageCalls});
  }
  if (auto it = subrequests_.find(request.id); it != subrequests_.end())
    it->second.storageCalls = request.storageCalls;
  if (auto it = lingering_.find(request.id); it != lingering_.end())
    it->second.storageCalls = request.storageCalls;
  recentOrder_.push_back(request.id);
}

const RecentAnswer* RequestTracker::recent(uint64_t id) const {
  auto it = recentAnswers_.find(id);
  return it == recentAnswers_.end() ? nullptr : &it->second;
}

std::string_view RequestTracker::requestIdOf(uint64_t id) const {
  if (auto it = inFlight_.find(id); it != inFlight_.end()) return it->second.requestId;
  if (const RecentAnswer* answer = recent(id)) return answer->requestId;
  return {};
}

bool RequestTracker::holds(uint32_t workerId, uint32_t deployment, uint64_t id) const {
  if (!issued(id)) return false;
  uint32_t holder = 0;
  uint32_t held = 0;
  if (auto it = inFlight_.find(id); it != inFlight_.end()) {
    holder = it->second.workerId;
    held = it->second.deployment;
  } else if (const RecentAnswer* answer = recent(id)) {
    holder = answer->workerId;
    held = answer->deployment;
  } else if (auto lingers = lingering_.find(id); lingers != lingering_.end()) {
    holder = lingers->second.workerId;
    held = lingers->second.deployment;
  } else if (auto known = subrequests_.find(id); known != subrequests_.end()) {
    holder = known->second.workerId;
    held = known->second.deployment;
  }
  return holder == workerId && held == deployment;
}

uint32_t* RequestTracker::storageCalls(uint32_t workerId, uint32_t deployment, uint64_t id) {
  if (!holds(workerId, deployment, id)) return nullptr;
  if (auto it = inFlight_.find(id); it != inFlight_.end()) return &it->second.storageCalls;
  if (auto it = lingering_.find(id); it != lingering_.end()) return &it->second.storageCalls;
  if (auto it = subrequests_.find(id); it != subrequests_.end()) return &it->second.storageCalls;
  if (auto it = recentAnswers_.find(id); it != recentAnswers_.end())
    return &it->second.storageCalls;
  return nullptr;
}

SubrequestCount& RequestTracker::subrequests(uint64_t parentId, uint32_t workerId,
                                             uint32_t deployment, Clock::time_point now) {
  auto [it, made] =
      subrequests_.try_emplace(parentId, SubrequestCount{workerId, deployment, 0, now});
  if (made) subrequestChecks_.push_back({now, parentId});
  // Made by waitUntil() work after the answer: it takes over the answer's storage call count
  // (a lingering request keeps its own, which storageCalls() asks first).
  if (const RecentAnswer* answer = recent(parentId); made && answer != nullptr)
    it->second.storageCalls = answer->storageCalls;
  return it->second;
}

void RequestTracker::pruneSubrequests(Clock::time_point now, Clock::duration horizon) {
  // Only the counts due a check are looked at (the oldest first), not every count: at tens of
  // thousands of fetches a second a full scan would hold the loop for milliseconds.
  while (!subrequestChecks_.empty() && now - subrequestChecks_.front().first > horizon) {
    uint64_t id = subrequestChecks_.front().second;
    subrequestChecks_.pop_front();
    auto it = subrequests_.find(id);
    if (it == subrequests_.end()) continue;  // forgotten with its worker
    if (!inFlight_.contains(id) && now - it->second.lastStart > horizon) {
      subrequests_.erase(it);
    } else {
      // Still in use: checked again a horizon from now (each count at most once a horizon).
      subrequestChecks_.push_back({now, id});
    }
  }
}

void RequestTracker::linger(const PendingRequest& request, uint32_t workerId,
                            Clock::time_point until) {
  if (lingering_.contains(request.id)) return;
  while (lingering_.size() >= kMaxLingering && !lingeringOrder_.empty()) {
    lingering_.erase(lingeringOrder_.front().second);
    lingeringOrder_.pop_front();
  }
  lingering_.emplace(request.id,
                     LingeringRequest{workerId, request.deployment, until, request.storageCalls});
  lingeringOrder_.push_back({until, request.id});
}

void RequestTracker::pruneLingering(Clock::time_point now) {
  while (!lingeringOrder_.empty() && lingeringOrder_.front().first <= now) {
    lingering_.erase(lingeringOrder_.front().second);
    lingeringOrder_.pop_front();
  }
}

void RequestTracker::forgetWorker(uint32_t workerId) {
  std::erase_if(subrequests_, [&](const auto& item) { return item.second.workerId == workerId; });
  std::erase_if(lingering_, [&](const auto& item) { return item.second.workerId == workerId; });
}

uint32_t RequestTracker::serviceDepth(uint64_t id) const {
  auto it = serviceDepths_.find(id);
  return it == serviceDepths_.end() ? 0 : it->second;
}

void RequestTracker::rememberServiceDepth(uint64_t id, uint32_t depth) {
  serviceDepths_[id] = depth;
  serviceDepthOrder_.push_back(id);
  if (serviceDepthOrder_.size() > kServiceDepthMemory) {
    serviceDepths_.erase(serviceDepthOrder_.front());
    serviceDepthOrder_.pop_front();
  }
}

}  // namespace isolated::supervisor::requests
