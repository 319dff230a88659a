// Forwarding to the default platform, and the wake-ups for foreground tasks.
#include "worker/loop_notifying_platform.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

#include "common/syscall.h"

namespace isolated::worker {

namespace {

// Posts to the default platform's runner for one isolate, then wakes the loop. Made afresh for
// each GetForegroundTaskRunner call, so nothing outlives an isolate but V8's own runner.
class NotifyingTaskRunner final : public v8::TaskRunner {
 public:
  NotifyingTaskRunner(std::shared_ptr<v8::TaskRunner> inner, LoopNotifyingPlatform& platform,
                      v8::Isolate* isolate)
      : inner_(std::move(inner)), platform_(platform), isolate_(isolate) {}

  void PostTask(std::unique_ptr<v8::Task> task) override {
    inner_->PostTask(std::move(task));
    platform_.notifyPosted(isolate_);
  }
  void PostNonNestableTask(std::unique_ptr<v8::Task> task) override {
    inner_->PostNonNestableTask(std::move(task));
    platform_.notifyPosted(isolate_);
  }
  void PostDelayedTask(std::unique_ptr<v8::Task> task, double delaySeconds) override {
    inner_->PostDelayedTask(std::move(task), delaySeconds);
    platform_.notifyPostedDelayed(isolate_, delaySeconds);
  }
  void PostNonNestableDelayedTask(std::unique_ptr<v8::Task> task, double delaySeconds) override {
    inner_->PostNonNestableDelayedTask(std::move(task), delaySeconds);
    platform_.notifyPostedDelayed(isolate_, delaySeconds);
  }
  void PostIdleTask(std::unique_ptr<v8::IdleTask> task) override {
    // Idle tasks are disabled (IdleTasksEnabled is false); V8 never posts them.
    inner_->PostIdleTask(std::move(task));
  }
  bool IdleTasksEnabled() override { return inner_->IdleTasksEnabled(); }
  bool NonNestableTasksEnabled() const override { return inner_->NonNestableTasksEnabled(); }
  bool NonNestableDelayedTasksEnabled() const override {
    return inner_->NonNestableDelayedTasksEnabled();
  }

 private:
  std::shared_ptr<v8::TaskRunner> inner_;
  LoopNotifyingPlatform& platform_;
  v8::Isolate* isolate_;
};

}  // namespace

LoopNotifyingPlatform::LoopNotifyingPlatform(int workerThreads)
    : inner_(v8::platform::NewDefaultPlatform(workerThreads)),
      wakeup_(static_cast<int>(checkedSyscall("eventfd", "V8 foreground task wake-ups", [] {
        return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      }))) {}

LoopNotifyingPlatform::~LoopNotifyingPlatform() = default;

std::shared_ptr<v8::TaskRunner> LoopNotifyingPlatform::GetForegroundTaskRunner(
    v8::Isolate* isolate) {
  return std::make_shared<NotifyingTaskRunner>(inner_->GetForegroundTaskRunner(isolate), *this,
                                               isolate);
}

void LoopNotifyingPlatform::notifyPosted(v8::Isolate* isolate) {
  {
    std::lock_guard lock(mutex_);
    ready_.insert(isolate);
  }
  uint64_t one = 1;
  // EAGAIN means the counter is saturated: the loop is woken anyway.
  trySyscall([&] { return ::write(wakeup_.get(), &one, sizeof one); });
}

void LoopNotifyingPlatform::notifyPostedDelayed(v8::Isolate* isolate, double delaySeconds) {
  {
    std::lock_guard lock(mutex_);
    deadlines_.emplace(MonotonicallyIncreasingTime() + delaySeconds, isolate);
  }
  notifyPosted(isolate);
}

std::set<v8::Isolate*> LoopNotifyingPlatform::takeReady(double now) {
  std::lock_guard lock(mutex_);
  std::set<v8::Isolate*> ready = std::move(ready_);
  ready_.clear();
  for (auto it = deadlines_.begin(); it != deadlines_.end() && it->first <= now; ++it) {
    ready.insert(it->second);
  }
  return ready;
}

void LoopNotifyingPlatform::drainWakeups() {
  uint64_t count = 0;
  trySyscall([&] { return ::read(wakeup_.get(), &count, sizeof count); });
}

bool LoopNotifyingPlatform::wakeupPending() const {
  pollfd readable{wakeup_.get(), POLLIN, 0};
  return trySyscall([&] { return ::poll(&readable, 1, 0); }) > 0;
}

std::optional<double> LoopNotifyingPlatform::nextDeadline(double pumpedAt) {
  std::lock_guard lock(mutex_);
  deadlines_.erase(deadlines_.begin(), deadlines_.upper_bound(pumpedAt));
  if (deadlines_.empty()) return std::nullopt;
  return deadlines_.begin()->first;
}

}  // namespace isolated::worker
