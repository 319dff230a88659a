// The watchdog thread and the slices that arm it.
#include "worker/cpu_watchdog.h"

#include <time.h>

#include <algorithm>
#include <system_error>

namespace isolated::worker {

namespace {

std::chrono::nanoseconds readClock(clockid_t clock) {
  timespec ts{};
  // Only fails for an invalid clock id, which the constructor rules out.
  clock_gettime(clock, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

}  // namespace

CpuWatchdog::CpuWatchdog() {
  if (int error = pthread_getcpuclockid(pthread_self(), &loopClock_); error != 0) {
    throw std::system_error(error, std::generic_category(), "pthread_getcpuclockid");
  }
  thread_ = std::thread([this] { run(); });
}

CpuWatchdog::~CpuWatchdog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

bool CpuWatchdog::arm(v8::Isolate* isolate, std::chrono::nanoseconds budget,
                      TerminationGate* gate) {
  auto wallNow = std::chrono::steady_clock::now();
  if (wallNow - lastCpuReadingAt_ > kCpuReadReuse) {
    lastCpuReading_ = readClock(loopClock_);
    lastCpuReadingAt_ = wallNow;
  }
  std::chrono::nanoseconds cpuNow = lastCpuReading_;
  auto earliestEnd = wallNow + budget;
  bool wake;
  {
    std::lock_guard lock(mutex_);
    // An inert slice (one is armed already) must leave the armed slice's state alone.
    if (isolate_ != nullptr) return false;
    isolate_ = isolate;
    sliceStart_ = cpuNow;
    budget_ = budget;
    fired_ = false;
    gate_ = gate;
    gateAsked_ = 0;
    interruptRequested_ = false;
    ++generation_;
    wake = earliestEnd < wakeAt_;
  }
  armedCpu_ = cpuNow;
  armedAt_ = wallNow;
  allowanceLeft_ = kRuntimeWorkAllowance;
  if (wake) wake_.notify_one();
  return true;
}

bool CpuWatchdog::disarm(std::chrono::nanoseconds& used) {
  bool fired;
  {
    std::lock_guard lock(mutex_);
    isolate_ = nullptr;
    gate_ = nullptr;
    fired = fired_;
  }
  runtimeWorkRaise_ = std::chrono::nanoseconds(0);
  auto wallNow = std::chrono::steady_clock::now();
  auto wall = std::chrono::duration_cast<std::chrono::nanoseconds>(wallNow - armedAt_);
  if (wall <= kCpuReadReuse) {
    used = wall;
  } else {
    lastCpuReading_ = readClock(loopClock_);
    lastCpuReadingAt_ = wallNow;
    used = std::max(std::chrono::nanoseconds(0), lastCpuReading_ - armedCpu_);
  }
  return fired;
}

void CpuWatchdog::beginRuntimeWork() {
  if (runtimeWorkDepth_++ > 0 || allowanceLeft_ <= std::chrono::nanoseconds(0)) return;
  std::chrono::nanoseconds start = readClock(loopClock_);
  std::lock_guard lock(mutex_);
  if (isolate_ == nullptr) return;
  runtimeWorkStart_ = start;
  runtimeWorkRaise_ = allowanceLeft_;
  // A raise only moves the deadline later: the thread finds out when it next looks.
  budget_ += runtimeWorkRaise_;
}

void CpuWatchdog::endRuntimeWork() {
  if (runtimeWorkDepth_ == 0 || --runtimeWorkDepth_ > 0 ||
      runtimeWorkRaise_ == std::chrono::nanoseconds(0)) {
    return;
  }
  std::chrono::nanoseconds took = std::clamp(readClock(loopClock_) - runtimeWorkStart_,
                                             std::chrono::nanoseconds(0), runtimeWorkRaise_);
  {
    std::lock_guard lock(mutex_);
    // The slice that raised the budget is still armed: runtime work runs inside JavaScript,
    // which runs inside one slice.
    if (isolate_ != nullptr) budget_ -= runtimeWorkRaise_ - took;
  }
  allowanceLeft_ -= took;
  runtimeWorkRaise_ = std::chrono::nanoseconds(0);
  // The deadline moved earlier than the one the thread may be sleeping towards.
  wake_.notify_one();
}

void CpuWatchdog::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (isolate_ == nullptr || fired_ || interruptRequested_) {
      wakeAt_ = std::chrono::steady_clock::time_point::max();
      wake_.wait(lock);
      continue;
    }
    std::chrono::nanoseconds used = readClock(loopClock_) - sliceStart_;
    if (used >= budget_) {
      if (gate_ == nullptr) {
        isolate_->TerminateExecution();
        fired_ = true;
      } else {
        // Over budget; where (and whether, if the JavaScript returns first) it stops is up to
        // the gate, asked from the interrupt.
        interruptFor_ = generation_;
        interruptRequested_ = true;
        isolate_->RequestInterrupt(&CpuWatchdog::onInterrupt, this);
      }
      continue;
    }
    // The slice cannot reach its budget before this instant; it may take longer if the loop
    // thread does not get the CPU, and then the check simply repeats.
    wakeAt_ = std::chrono::steady_clock::now() + (budget_ - used);
    wake_.wait_until(lock, wakeAt_);
  }
}

void CpuWatchdog::onInterrupt(v8::Isolate* isolate, void* data) {
  auto* self = static_cast<CpuWatchdog*>(data);
  std::lock_guard lock(self->mutex_);
  if (self->isolate_ != isolate || self->interruptFor_ != self->generation_ || self->fired_) {
    return;  // delivered after its slice ended
  }
  if (readClock(self->loopClock_) - self->sliceStart_ < self->budget_) {
    // Runtime work raised the budget after the thread asked for the interrupt.
    self->interruptRequested_ = false;
    self->wake_.notify_one();
    return;
  }
  if (self->gate_->readyToTerminate(isolate, self->gateAsked_++)) {
    isolate->TerminateExecution();
    self->fired_ = true;
  } else {
    isolate->RequestInterrupt(&CpuWatchdog::onInterrupt, self);
  }
}

CpuSlice::CpuSlice(CpuWatchdog& watchdog, v8::Isolate* isolate, std::chrono::nanoseconds budget,
                   TerminationGate* gate)
    : watchdog_(watchdog), armed_(watchdog.arm(isolate, budget, gate)) {}

bool CpuSlice::finish() {
  if (armed_) {
    fired_ = watchdog_.disarm(used_);
    armed_ = false;
  }
  return fired_;
}

}  // namespace isolated::worker
