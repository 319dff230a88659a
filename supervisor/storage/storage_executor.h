// The storage threads: runs blocking backend calls off the supervisor's event loop and hands
// their results back to it.
//
// submit(job, done): `job` runs on one of the pool's threads; `done` then runs on the loop
// thread with what `job` returned. Completions are queued under a mutex and announced with an
// eventfd that the loop watches (one read drains every queued completion), so the loop never
// waits for storage and a thread never touches loop state.
// Invariants: jobs must not touch loop-thread state (they get their inputs by value); `done`
// is the only code that runs on the loop. Jobs run in submission order per thread, but in no
// particular order across threads.
// Lifetime: the destructor stops taking jobs, joins the threads (jobs already running finish;
// each backend call is bounded by its own timeout) and drops completions not yet delivered.
// It must run on the loop thread, before the event_base is freed.
#pragma once

#include <event2/event.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "common/unique_fd.h"
#include "event/dispatcher.h"

namespace isolated::storage {

class StorageExecutor {
 public:
  using Job = std::function<std::function<void()>()>;
  // Starts `threads` (at least 1) storage threads; throws std::runtime_error when the eventfd
  // or its event cannot be made.
  StorageExecutor(event_base* base, unsigned threads);
  ~StorageExecutor();
  StorageExecutor(const StorageExecutor&) = delete;
  StorageExecutor& operator=(const StorageExecutor&) = delete;

  // `job` runs on a storage thread and returns the completion to run on the loop.
  void submit(Job job);
  // Jobs submitted and not yet completed on the loop.
  size_t pending() const { return pending_; }
  // Every storage thread to SCHED_IDLE or back (common/process_priority.h): 0 or an errno.
  // Threads still starting take the setting when they start.
  int setBackground(bool background);

 private:
  void work();
  void drain();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  std::deque<std::function<void()>> done_;
  bool stopping_ = false;
  size_t pending_ = 0;      // loop thread only
  event::Dispatcher loop_;  // borrowed base
  UniqueFd eventFd_;
  event::FileEvent event_;
  // Kernel thread ids of the started threads, and the policy threads take when they start;
  // under mutex_.
  std::vector<pid_t> tids_;
  bool background_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace isolated::storage
