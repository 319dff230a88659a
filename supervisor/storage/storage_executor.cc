// Storage threads with an eventfd back to the loop.
#include "supervisor/storage/storage_executor.h"

#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <stdexcept>

#include "common/process_priority.h"

namespace isolated::storage {

namespace {

UniqueFd openEventFd() {
  UniqueFd fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!fd) throw std::runtime_error("storage: cannot create an eventfd");
  return fd;
}

}  // namespace

StorageExecutor::StorageExecutor(event_base* base, unsigned threads)
    : loop_(base),
      eventFd_(openEventFd()),
      event_(loop_, eventFd_.get(), EV_READ, false, [this](short) { drain(); }) {
  for (unsigned i = 0; i < std::max(threads, 1u); ++i)
    threads_.emplace_back([this] { work(); });
}

StorageExecutor::~StorageExecutor() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    jobs_.clear();
  }
  wake_.notify_all();
  for (auto& thread : threads_)
    thread.join();
}

void StorageExecutor::submit(Job job) {
  ++pending_;
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
}

int StorageExecutor::setBackground(bool background) {
  std::lock_guard lock(mutex_);
  background_ = background;
  return setThreadsBackground(tids_, background);
}

void StorageExecutor::work() {
  // Named for `top -H` and for the tests that find them ("storage", within the 15 bytes).
  pthread_setname_np(pthread_self(), "storage");
  {
    std::lock_guard lock(mutex_);
    tids_.push_back(::gettid());
    if (background_) setThreadsBackground(std::span<const pid_t>(&tids_.back(), 1), true);
  }
  while (true) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    std::function<void()> completion = job();
    bool first;
    {
      std::lock_guard lock(mutex_);
      first = done_.empty();
      done_.push_back(std::move(completion));
    }
    // One wake-up per batch of completions: the loop drains them all at once.
    if (first) {
      uint64_t one = 1;
      [[maybe_unused]] ssize_t written = ::write(eventFd_.get(), &one, sizeof one);
    }
  }
}

void StorageExecutor::drain() {
  uint64_t count = 0;
  [[maybe_unused]] ssize_t got = ::read(eventFd_.get(), &count, sizeof count);
  std::deque<std::function<void()>> ready;
  {
    std::lock_guard lock(mutex_);
    ready.swap(done_);
  }
  for (auto& completion : ready) {
    --pending_;
    if (completion) completion();
  }
}

}  // namespace isolated::storage
