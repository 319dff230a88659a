// IsolateHost's request lifetimes: when a request's work (timers, fetches, waitUntil()) ends
// after its answer, the --wait-until-timeout deadlines, and, with --isolation context|isolate, the
// requests held back while waitUntil() work keeps the used state alive.
#include "worker/isolate_host.h"

#include <algorithm>

#include "worker/duration_text.h"

namespace isolated::worker {

bool IsolateHost::requestAlive(uint64_t id) const {
  if (!context_ || killed_.contains(id)) return false;
  return context_->hasRequest(id) || context_->waitUntilFor(id) > 0 ||
         std::find(endedRequests_.begin(), endedRequests_.end(), id) != endedRequests_.end();
}

void IsolateHost::requestAnswered(uint64_t id) {
  if (context_->waitUntilFor(id) > 0 && options_.isolation == IsolationMode::kShared) {
    waitUntilDeadlines_.add(id);
  }
  // Its work ends at the next loop iteration, or, with waitUntil() work, when that does.
  endedRequests_.push_back(id);
  event_active(endEvent_.get(), EV_TIMEOUT, 0);
}

void IsolateHost::processEndedRequests() {
  auto ended = std::move(endedRequests_);
  endedRequests_.clear();
  for (uint64_t id : ended) {
    if (context_ && (context_->hasRequest(id) || context_->waitUntilFor(id) > 0)) continue;
    endRequestWork(id);
  }
}

void IsolateHost::endRequestWork(uint64_t id) {
  timers_.cancelRequest(id);
  if (isolate_) fetches_.dropRequest(isolate_->get(), id);
}

void IsolateHost::onWaitUntilExpired(const std::vector<uint64_t>& ids) {
  bool abandoned = false;
  for (uint64_t id : ids) {
    if (!context_ || context_->hasRequest(id)) continue;
    if (uint32_t pending = context_->dropWaitUntil(id); pending > 0) {
      writer_.log(2,
                  "cancelled " + std::to_string(pending) + " waitUntil() tasks: still pending " +
                      millisText(options_.waitUntilTimeout) +
                      " after the response (--wait-until-timeout)",
                  id);
      endRequestWork(id);
      abandoned = true;
    }
  }
  if (abandoned && context_ && context_->waitUntilCount() == 0) {
    event_active(releaseEvent_.get(), EV_TIMEOUT, 0);
  }
}

void IsolateHost::forgetContextWork() {
  killed_.clear();
  replayable_.clear();
  endedRequests_.clear();
  waitUntilDeadlines_.clear();
  timers_.clear();
  fetches_.clear(isolate_->get());
  bindingCalls_.clear();
}

void IsolateHost::waitUntilBegin(uint64_t id) {
  // A request whose work has ended cannot start more (the runtime's promise still settles,
  // and waitUntilEnd then finds nothing to end).
  if (context_ && (id == 0 || requestAlive(id))) context_->beginWaitUntil(id);
}

void IsolateHost::waitUntilEnd(uint64_t id) {
  if (!context_ || !context_->endWaitUntil(id)) return;
  if (id != 0 && !context_->hasRequest(id) && context_->waitUntilFor(id) == 0) {
    endedRequests_.push_back(id);
    event_active(endEvent_.get(), EV_TIMEOUT, 0);
  }
  if (context_->waitUntilCount() == 0) {
    event_del(graceTimer_.get());
    event_active(releaseEvent_.get(), EV_TIMEOUT, 0);
  }
}

bool IsolateHost::holdIfBackground(ipc::Envelope::Reader envelope) {
  if (options_.isolation == IsolationMode::kShared) return false;
  if (held_.empty() && (!contextUsed_ || backgroundTasks() == 0)) return false;
  auto copy = std::make_unique<capnp::MallocMessageBuilder>();
  copy->setRoot(envelope);
  held_.push_back(std::move(copy));
  // Usually armed by the response already; this covers work registered after it.
  armGraceIfBackground();
  return true;
}

void IsolateHost::releaseHeld() {
  while (!held_.empty() && backgroundTasks() == 0) {
    std::unique_ptr<capnp::MallocMessageBuilder> next = std::move(held_.front());
    held_.pop_front();
    auto envelope = next->getRoot<ipc::Envelope>().asReader();
    if (envelope.isRequestStart()) {
      dispatch(envelope.getRequestStart());
    } else if (envelope.isScheduled()) {
      dispatchScheduled(envelope.getScheduled());
    }
  }
  if (backgroundTasks() == 0 && backgroundIdle_) backgroundIdle_();
}

void IsolateHost::onGraceExpired() {
  if (backgroundTasks() == 0) return;
  abandonBackground("still pending " + millisText(options_.waitUntilTimeout) +
                    " after the response; the state is refreshed for the next request");
  releaseHeld();
}

void IsolateHost::abandonBackground(const std::string& why) {
  size_t pending = backgroundTasks();
  if (pending == 0) return;
  writer_.log(2, "cancelled " + std::to_string(pending) + " waitUntil() tasks: " + why, 0);
  // Dropping the state is the only way to stop JavaScript work; the next request (if any) gets
  // a fresh one anyway in these modes.
  if (options_.isolation != IsolationMode::kShared) {
    refreshForRequest();
    contextUsed_ = false;
  }
}

void IsolateHost::armGraceIfBackground() {
  if (options_.isolation == IsolationMode::kShared || backgroundTasks() == 0) return;
  if (event_pending(graceTimer_.get(), EV_TIMEOUT, nullptr)) return;
  timeval tv = millisToTimeval(options_.waitUntilTimeout.count());
  event_add(graceTimer_.get(), &tv);
}

}  // namespace isolated::worker
