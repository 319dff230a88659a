// setProcessBackground on a real child process with several threads: every thread moves to
// SCHED_IDLE and back, and a process that is gone is reported as such.
#include "common/process_priority.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

namespace isolated {
namespace {

void* parkForever(void*) {
  for (;;)
    pause();
  return nullptr;
}

// A child with its main thread and two more, all parked; killed when the fixture ends.
class ParkedChild {
 public:
  ParkedChild() {
    int ready[2];
    if (pipe(ready) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      for (int i = 0; i < 2; ++i) {
        pthread_t thread;
        pthread_create(&thread, nullptr, parkForever, nullptr);
      }
      if (write(ready[1], "x", 1) != 1) _exit(1);
      parkForever(nullptr);
    }
    close(ready[1]);
    char byte;
    if (read(ready[0], &byte, 1) != 1) pid_ = -1;
    close(ready[0]);
  }
  ~ParkedChild() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  std::vector<pid_t> threads() const {
    std::vector<pid_t> out;
    EXPECT_EQ(threadsOf(pid_, out), 0);
    return out;
  }

 private:
  pid_t pid_ = -1;
};

TEST(ProcessPriority, EveryThreadGoesToTheBackgroundAndBack) {
  if (!canRestoreNormalPriority())
    GTEST_SKIP() << "needs CAP_SYS_NICE or RLIMIT_NICE 20 to restore SCHED_OTHER";
  ParkedChild child;
  ASSERT_GT(child.pid(), 0);
  auto threads = child.threads();
  ASSERT_EQ(threads.size(), 3u);
  for (pid_t tid : threads)
    EXPECT_EQ(sched_getscheduler(tid), SCHED_OTHER);

  ASSERT_EQ(setProcessBackground(child.pid(), true), 0);
  for (pid_t tid : threads) {
    EXPECT_EQ(sched_getscheduler(tid), SCHED_IDLE) << "thread " << tid;
    EXPECT_TRUE(runsInBackground(tid));
  }
  ASSERT_EQ(setProcessBackground(child.pid(), false), 0);
  for (pid_t tid : threads) {
    EXPECT_EQ(sched_getscheduler(tid), SCHED_OTHER) << "thread " << tid;
    EXPECT_FALSE(runsInBackground(tid));
  }
}

TEST(ProcessPriority, AProcessThatIsGoneIsReported) {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  ASSERT_GT(pid, 0);
  ASSERT_EQ(waitpid(pid, nullptr, 0), pid);
  EXPECT_EQ(setProcessBackground(pid, true), ESRCH);
  EXPECT_FALSE(runsInBackground(pid));
  std::vector<pid_t> tids{1};
  EXPECT_EQ(threadsOf(pid, tids), ESRCH);
  EXPECT_TRUE(tids.empty());
}

}  // namespace
}  // namespace isolated
