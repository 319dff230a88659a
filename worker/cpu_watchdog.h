// The CPU-time limit for JavaScript: one watchdog thread per worker that terminates a run of
// JavaScript once it has used more CPU time than its budget.
//
// What is charged: each *slice*, one uninterrupted run of JavaScript entered from native code
// (a request dispatch, a timer callback, a health probe, script loading), together with the
// microtask checkpoint that follows it. A slice is delimited by a CpuSlice on the stack of the
// loop thread. Time the loop spends waiting for timers or messages is outside every slice and
// is never charged; a handler that awaits gets a fresh budget for each slice it runs in. What
// the loop thread does inside a slice is charged whatever it is: JavaScript, the native code
// it calls (request and response marshalling) and garbage collection on that thread.
//
// How: arming records the loop thread's CPU clock (pthread_getcpuclockid). Reading that clock is
// a system call (the vDSO serves only wall clocks), so a slice armed within kCpuReadReuse of wall
// time after the last reading starts from that reading instead: it is charged for at most
// kCpuReadReuse of CPU spent before it began (CPU time never outruns wall time), and a batch of
// short requests costs one reading, not one each. The watchdog thread
// sleeps on a condition variable until the earliest wall-clock instant at which the budget could
// be spent (CPU time of one thread never advances faster than wall time), then reads the loop
// thread's actual CPU time. Over budget: it calls v8::Isolate::TerminateExecution, the one V8
// call documented as safe from another thread, or, for a slice with a TerminationGate, asks V8
// to interrupt the JavaScript (RequestInterrupt, also thread-safe) and terminates from the
// interrupt, on the loop thread, once the gate agrees (see TerminationGate). Under budget (the loop
// thread was descheduled or blocked): it sleeps again for the remaining budget. There is no
// polling: an idle worker's watchdog sleeps without a deadline, and a busy one wakes about once per
// budget, not once per slice.
//
// CPU accounting (per app, for Pong): a slice reports the CPU time it used. Reading the clock is a
// system call, so a slice shorter than kCpuReadReuse of wall time is charged its wall time
// (CPU time never exceeds it) and only longer slices read the clock when they end; that
// reading then serves the next slice's start. A charge may include up to kCpuReadReuse spent
// just before the slice (the reused start reading), never JavaScript of another slice.
//
// Runtime work (beginRuntimeWork/endRuntimeWork): the runtime's own work inside a slice, such as
// the first load of a lazily loaded runtime module (worker/js/lazy_module.js), which compiles
// and evaluates a large module (10 ms of CPU for the streams modules on the 2-core VM, several
// times that under ASan) in the middle of an app's request. Its CPU is still charged (the app's
// accounting shows it) but does not count against the budget: while it runs the budget is
// raised by what is left of the slice's kRuntimeWorkAllowance, and when it ends the raise
// shrinks to the CPU it took. The allowance is per slice, not per piece of work, because a
// script can make the runtime's work run its code (a patched built-in the module calls): a
// slice can never run longer than its budget plus the allowance. (And lazy_module.js brackets
// only a module's first load attempt, so a load made to throw cannot claim it on every slice.)
//
// Threading: CpuSlice (arming and disarming) is used only on the loop thread that constructed
// the watchdog. All shared state is guarded by one mutex; TerminateExecution is called with it
// held, so once a slice is disarmed the watchdog can no longer terminate on its behalf.
// Invariant: the isolate passed to a slice outlives the slice (it is only held while armed).
#pragma once

#include <pthread.h>
#include <v8.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace isolated::worker {

// Chooses where a slice that has spent its budget is stopped. V8 calls it on the loop thread at
// an interrupt point (a function entry or a loop's back edge) with the JavaScript paused; the
// watchdog terminates the JavaScript at once when it returns true, and asks again at the next
// interrupt point when it returns false. `asked` counts the calls for this slice (from 0), so
// a gate can stop deferring after a bound. It must not run JavaScript.
class TerminationGate {
 public:
  virtual bool readyToTerminate(v8::Isolate* isolate, int asked) = 0;

 protected:
  ~TerminationGate() = default;
};

class CpuWatchdog {
 public:
  // Starts the watchdog thread. Measures the CPU time of the calling thread: construct it on
  // the event-loop thread that runs JavaScript.
  CpuWatchdog();
  // Stops and joins the thread. No slice may be armed.
  ~CpuWatchdog();
  CpuWatchdog(const CpuWatchdog&) = delete;
  CpuWatchdog& operator=(const CpuWatchdog&) = delete;

  // The CPU a slice's runtime work may take beyond the slice's budget, in total.
  static constexpr std::chrono::milliseconds kRuntimeWorkAllowance{100};

  // Brackets runtime work (see "Runtime work" above). Loop thread only; may nest (only the
  // outermost pair counts); without an armed slice, or with the allowance spent, they change
  // nothing.
  void beginRuntimeWork();
  void endRuntimeWork();

 private:
  friend class CpuSlice;

  // False (and nothing changes) when a slice is already armed.
  bool arm(v8::Isolate* isolate, std::chrono::nanoseconds budget, TerminationGate* gate);
  // Returns whether the watchdog called TerminateExecution during the slice, and sets `used` to
  // the CPU time the slice is charged (see "CPU accounting").
  bool disarm(std::chrono::nanoseconds& used);
  void run();
  // V8's interrupt callback (loop thread): `data` is the watchdog.
  static void onInterrupt(v8::Isolate* isolate, void* data);

  // How long a reading of the loop thread's CPU clock stands for the start of a new slice.
  static constexpr std::chrono::microseconds kCpuReadReuse{100};

  clockid_t loopClock_;
  // Loop thread only: the last reading of loopClock_ and the wall time at which it was taken.
  std::chrono::nanoseconds lastCpuReading_{0};
  std::chrono::steady_clock::time_point lastCpuReadingAt_;
  // Loop thread only: the armed slice's start, as CPU reading and wall time.
  std::chrono::nanoseconds armedCpu_{0};
  std::chrono::steady_clock::time_point armedAt_;
  // Loop thread only: the runtime work in progress (its nesting depth; the CPU reading at its
  // start and the raise it added to budget_, zero if none) and the armed slice's allowance left.
  int runtimeWorkDepth_ = 0;
  std::chrono::nanoseconds runtimeWorkStart_{0};
  std::chrono::nanoseconds runtimeWorkRaise_{0};
  std::chrono::nanoseconds allowanceLeft_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  // Guarded by mutex_. `isolate_` is non-null exactly while a slice is armed.
  v8::Isolate* isolate_ = nullptr;
  std::chrono::nanoseconds sliceStart_{0};
  std::chrono::nanoseconds budget_{0};
  bool fired_ = false;
  // The armed slice's gate (null: terminate at once), how often it was asked, and the slice
  // generation an interrupt was requested for: an interrupt V8 delivers after its slice ended
  // (the JavaScript returned before reaching an interrupt point) finds another generation and
  // does nothing.
  TerminationGate* gate_ = nullptr;
  int gateAsked_ = 0;
  bool interruptRequested_ = false;
  uint64_t generation_ = 0;
  uint64_t interruptFor_ = 0;
  // When the thread will next look at the slice on its own (max() while it waits without a
  // deadline). Arming wakes it only if the new slice could run out before then; otherwise
  // the thread re-reads the slice at that instant, so a busy loop costs no wake-up per slice.
  std::chrono::steady_clock::time_point wakeAt_ = std::chrono::steady_clock::time_point::max();
  bool stopping_ = false;
  std::thread thread_;  // last: started once every other member is initialised
};

// Arms the watchdog for one slice of JavaScript; disarms when finished or destroyed. Stack-only.
// Slices do not nest: a CpuSlice created while another is armed is inert.
class CpuSlice {
 public:
  // With a `gate`, the slice's JavaScript is stopped where the gate agrees (see TerminationGate).
  CpuSlice(CpuWatchdog& watchdog, v8::Isolate* isolate, std::chrono::nanoseconds budget,
           TerminationGate* gate = nullptr);
  ~CpuSlice() { finish(); }
  CpuSlice(const CpuSlice&) = delete;
  CpuSlice& operator=(const CpuSlice&) = delete;
  static void* operator new(size_t) = delete;
  static void operator delete(void*) = delete;

  // Disarms now. True when the watchdog terminated execution during this slice (with a gate:
  // once the gate agreed; a budget spent while the gate deferred, or before any interrupt
  // point, is not a termination); the caller
  // must then either handle the termination or, if JavaScript had already returned, cancel it
  // (v8::Isolate::CancelTerminateExecution) before the isolate runs JavaScript again.
  bool finish();
  // The CPU time charged to this slice; valid after finish() (zero for an inert slice).
  std::chrono::nanoseconds used() const { return used_; }

 private:
  CpuWatchdog& watchdog_;
  bool armed_;
  bool fired_ = false;
  std::chrono::nanoseconds used_{0};
};

}  // namespace isolated::worker
