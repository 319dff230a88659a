// An event loop and its events (one-shot and periodic timers, deferred calls, descriptors,
// signals), as objects that take std::function callbacks and cancel themselves when destroyed,
// in place of `void* self` trampolines at every call site.
//
// Lifetime: a Dispatcher owns its event_base, or borrows one that outlives it. Every event object
// here must be destroyed before its Dispatcher's event_base (owners declare the Dispatcher, or
// the borrowed base's owner, first). An event object must not be destroyed from inside its own
// callback (its std::function is running): owners defer the destruction to a later callback.
// Threading: a Dispatcher and its events belong to the thread that runs the loop; nothing here
// is safe to touch from another thread.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <ctime>
#include <functional>

#include "common/event_handles.h"

namespace isolated::event {

class Dispatcher {
 public:
  // A new event base of its own; throws std::runtime_error when libevent cannot make one.
  Dispatcher();
  // Borrows `base`, which must outlive the Dispatcher.
  explicit Dispatcher(event_base* base) : base_(base) {}
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  event_base* base() const { return base_; }
  // Runs until exit() or until no event is pending.
  void run() { event_base_dispatch(base_); }
  // Runs one turn of the loop, blocking for at least one event (for tests).
  void runOnce() { event_base_loop(base_, EVLOOP_ONCE); }
  // Runs the turns whose events are ready now, without blocking.
  void runReady() { event_base_loop(base_, EVLOOP_NONBLOCK); }
  void exit() { event_base_loopbreak(base_); }
  // Seconds since the epoch, cached for the current loop turn (no syscall in a callback).
  time_t nowSeconds() const;

 private:
  EventBasePtr owned_;
  event_base* base_;
};

// A one-shot timer. arm() (re)starts it; it fires once unless cancelled or re-armed first.
class Timer {
 public:
  Timer(Dispatcher& dispatcher, std::function<void()> onFire);
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  void arm(uint32_t milliseconds);
  void cancel() { event_del(event_.get()); }
  bool armed() const { return event_pending(event_.get(), EV_TIMEOUT, nullptr) != 0; }

 private:
  static void trampoline(evutil_socket_t, short, void* self);
  std::function<void()> onFire_;
  EventPtr event_;
};

// A timer that fires every `period` once started, until stopped (the supervisor's housekeeping
// ticks, a control socket's sweep).
class PeriodicTimer {
 public:
  PeriodicTimer(Dispatcher& dispatcher, std::function<void()> onFire);
  PeriodicTimer(const PeriodicTimer&) = delete;
  PeriodicTimer& operator=(const PeriodicTimer&) = delete;

  // (Re)starts the period from now.
  void start(uint32_t periodMilliseconds);
  void stop() { event_del(event_.get()); }
  bool running() const { return event_pending(event_.get(), EV_TIMEOUT, nullptr) != 0; }

 private:
  static void trampoline(evutil_socket_t, short, void* self);
  std::function<void()> onFire_;
  EventPtr event_;
};

// A POSIX signal delivered as a loop callback (libevent's self-pipe), for as long as the object
// lives. At most one SignalEvent per signal per process is meaningful (libevent's rule).
class SignalEvent {
 public:
  SignalEvent(Dispatcher& dispatcher, int signal, std::function<void()> onSignal);
  SignalEvent(const SignalEvent&) = delete;
  SignalEvent& operator=(const SignalEvent&) = delete;

 private:
  static void trampoline(evutil_socket_t, short, void* self);
  std::function<void()> onSignal_;
  EventPtr event_;
};

// A callback to run later in the current loop turn (after the callbacks already ready), without a
// system call: for work that must not run inside the caller's stack.
class Deferred {
 public:
  Deferred(Dispatcher& dispatcher, std::function<void()> run);
  Deferred(const Deferred&) = delete;
  Deferred& operator=(const Deferred&) = delete;

  // Idempotent until the callback runs.
  void schedule() {
    if (!event_pending(event_.get(), EV_TIMEOUT, nullptr))
      event_active(event_.get(), EV_TIMEOUT, 0);
  }

 private:
  static void trampoline(evutil_socket_t, short, void* self);
  std::function<void()> run_;
  EventPtr event_;
};

// A descriptor watched for as long as the object lives: registered with the kernel once
// (EV_PERSIST), so readiness costs no system call per use. With `edgeTriggered` the owner must
// drain the descriptor (read until EAGAIN) or remember that it did not; libevent then reports
// only new readiness. `events` is EV_READ and/or EV_WRITE; the callback receives what is ready.
class FileEvent {
 public:
  // `enabled`: watching starts at once; otherwise at the first enable().
  FileEvent(Dispatcher& dispatcher, int fd, short events, bool edgeTriggered,
            std::function<void(short ready)> onReady, bool enabled = true);
  FileEvent(const FileEvent&) = delete;
  FileEvent& operator=(const FileEvent&) = delete;
  ~FileEvent() = default;

  // Stops watching (one epoll_ctl) until enable(); for pauses that last, such as a listener at
  // its connection cap.
  void disable() {
    if (enabled_) event_del(event_.get());
    enabled_ = false;
  }
  void enable() {
    if (!enabled_) event_add(event_.get(), nullptr);
    enabled_ = true;
  }
  bool enabled() const { return enabled_; }
  // Runs the callback from the loop as if `ready` had been reported, without a system call.
  void activate(short ready) { event_active(event_.get(), ready, 0); }

 private:
  static void trampoline(evutil_socket_t, short ready, void* self);
  std::function<void(short)> onReady_;
  EventPtr event_;
  bool enabled_ = false;
};

}  // namespace isolated::event
