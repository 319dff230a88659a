// Messages from any thread to one event loop, taken in the order they were posted.
//
// post() may be called from any thread; the callback runs on the receiving Dispatcher's loop
// with each message in turn. The receiver is woken through an eventfd that is written only when
// the queue goes from empty to non-empty, so a sender that posts faster than the receiver takes
// costs one write(2) per batch the receiver takes, and the lock is held only to push or to swap
// the whole batch out (never while a callback runs).
//
// A sender on an event loop of its own posts through an Outbox instead: its messages of one loop
// turn go over in one batch (one lock, at most one write(2)) at the end of the turn.
//
// Lifetime: senders must stop posting before the Mailbox is destroyed (the threads that post are
// joined first). Construct it on the receiving thread, or before that thread's loop starts.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <functional>
#include <mutex>
#include <system_error>
#include <utility>
#include <vector>

#include "common/unique_fd.h"
#include "event/dispatcher.h"

namespace isolated::front {

template <class Message>
class Mailbox {
 public:
  Mailbox(event::Dispatcher& receiver, std::function<void(Message&)> onMessage)
      : onMessage_(std::move(onMessage)),
        wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
        event_(receiver, checkedFd(wake_.get()), EV_READ, false, [this](short) { take(); }) {}
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  void post(Message message) {
    bool wasEmpty;
    {
      std::lock_guard lock(mutex_);
      wasEmpty = pending_.empty();
      pending_.push_back(std::move(message));
    }
    if (wasEmpty) wake();
  }
  // Posts every message of `batch`, in order, and leaves it empty.
  void postAll(std::vector<Message>& batch) {
    if (batch.empty()) return;
    bool wasEmpty;
    {
      std::lock_guard lock(mutex_);
      wasEmpty = pending_.empty();
      if (wasEmpty) {
        pending_.swap(batch);
      } else {
        for (Message& message : batch)
          pending_.push_back(std::move(message));
      }
    }
    batch.clear();
    if (wasEmpty) wake();
  }

 private:
  void wake() {
    uint64_t one = 1;
    // EAGAIN only when the counter is near overflow: the receiver is woken already.
    [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof one);
  }
  static int checkedFd(int fd) {
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "eventfd for a mailbox");
    return fd;
  }
  void take() {
    uint64_t count;
    [[maybe_unused]] ssize_t n = ::read(wake_.get(), &count, sizeof count);
    {
      std::lock_guard lock(mutex_);
      taking_.swap(pending_);
    }
    for (Message& message : taking_)
      onMessage_(message);
    taking_.clear();
  }

  std::function<void(Message&)> onMessage_;
  UniqueFd wake_;
  event::FileEvent event_;
  std::mutex mutex_;
  std::vector<Message> pending_;  // guarded by mutex_
  std::vector<Message> taking_;   // the receiver's thread only
};

// The sending end of a Mailbox for a sender with an event loop: post() collects, and the batch
// goes over once the loop turn's ready callbacks have run (a Deferred, no system call), or at
// flush(). Everything on the sender's thread.
template <class Message>
class Outbox {
 public:
  Outbox(event::Dispatcher& sender, Mailbox<Message>& to)
      : to_(to), flush_(sender, [this] { to_.postAll(batch_); }) {}
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  void post(Message message) {
    batch_.push_back(std::move(message));
    flush_.schedule();
  }
  // Sends what is collected now (before the sender blocks, or posts to the Mailbox directly).
  void flush() { to_.postAll(batch_); }

 private:
  Mailbox<Message>& to_;
  std::vector<Message> batch_;
  event::Deferred flush_;
};

}  // namespace isolated::front
