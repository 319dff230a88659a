// The event-loop wrapper: see dispatcher.h.
#include "event/dispatcher.h"

#include <stdexcept>
#include <string>
#include <utility>

namespace isolated::event {

Dispatcher::Dispatcher() : owned_(event_base_new()), base_(owned_.get()) {
  if (!base_) throw std::runtime_error("event_base_new failed");
}

time_t Dispatcher::nowSeconds() const {
  timeval tv{};
  event_base_gettimeofday_cached(base_, &tv);
  return tv.tv_sec;
}

Timer::Timer(Dispatcher& dispatcher, std::function<void()> onFire)
    : onFire_(std::move(onFire)), event_(evtimer_new(dispatcher.base(), trampoline, this)) {
  if (!event_) throw std::runtime_error("evtimer_new failed");
}

void Timer::arm(uint32_t milliseconds) {
  timeval tv = millisToTimeval(milliseconds);
  evtimer_add(event_.get(), &tv);
}

void Timer::trampoline(evutil_socket_t, short, void* self) {
  static_cast<Timer*>(self)->onFire_();
}

PeriodicTimer::PeriodicTimer(Dispatcher& dispatcher, std::function<void()> onFire)
    : onFire_(std::move(onFire)),
      event_(event_new(dispatcher.base(), -1, EV_PERSIST, trampoline, this)) {
  if (!event_) throw std::runtime_error("event_new failed");
}

void PeriodicTimer::start(uint32_t periodMilliseconds) {
  timeval tv = millisToTimeval(periodMilliseconds);
  event_add(event_.get(), &tv);
}

void PeriodicTimer::trampoline(evutil_socket_t, short, void* self) {
  static_cast<PeriodicTimer*>(self)->onFire_();
}

SignalEvent::SignalEvent(Dispatcher& dispatcher, int signal, std::function<void()> onSignal)
    : onSignal_(std::move(onSignal)),
      event_(evsignal_new(dispatcher.base(), signal, trampoline, this)) {
  if (!event_ || event_add(event_.get(), nullptr) != 0) {
    throw std::runtime_error("cannot watch signal " + std::to_string(signal));
  }
}

void SignalEvent::trampoline(evutil_socket_t, short, void* self) {
  static_cast<SignalEvent*>(self)->onSignal_();
}

Deferred::Deferred(Dispatcher& dispatcher, std::function<void()> run)
    : run_(std::move(run)), event_(event_new(dispatcher.base(), -1, 0, trampoline, this)) {
  if (!event_) throw std::runtime_error("event_new failed");
}

void Deferred::trampoline(evutil_socket_t, short, void* self) {
  static_cast<Deferred*>(self)->run_();
}

FileEvent::FileEvent(Dispatcher& dispatcher, int fd, short events, bool edgeTriggered,
                     std::function<void(short)> onReady, bool enabled)
    : onReady_(std::move(onReady)),
      event_(event_new(dispatcher.base(), fd,
                       static_cast<short>(events | EV_PERSIST | (edgeTriggered ? EV_ET : 0)),
                       trampoline, this)) {
  if (!event_) throw std::runtime_error("event_new failed");
  if (enabled) enable();
}

void FileEvent::trampoline(evutil_socket_t, short ready, void* self) {
  static_cast<FileEvent*>(self)->onReady_(ready);
}

}  // namespace isolated::event
