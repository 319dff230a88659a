// planBackground: which workers yield the CPU (--background-heavy-apps).
#include "supervisor/pool/background_plan.h"

#include <gtest/gtest.h>

#include <vector>

namespace isolated {
namespace {

constexpr WorkerLoad kIdle{false, false};
constexpr WorkerLoad kLight{true, false};
constexpr WorkerLoad kHeavy{true, true};

std::vector<bool> plan(std::vector<WorkerLoad> workers) {
  planBackground(workers);
  std::vector<bool> out;
  for (const auto& w : workers)
    out.push_back(w.background);
  return out;
}

TEST(BackgroundPlan, AHeavyOnlyWorkerYieldsWhileALightAppIsInUse) {
  EXPECT_EQ(plan({kHeavy, kLight}), (std::vector<bool>{true, false}));
  EXPECT_EQ(plan({kLight, kHeavy, kHeavy, kIdle}), (std::vector<bool>{false, true, true, false}));
}

TEST(BackgroundPlan, WithoutALightAppNothingYields) {
  // Heavy apps among themselves share the CPU as usual.
  EXPECT_EQ(plan({kHeavy, kHeavy}), (std::vector<bool>{false, false}));
  EXPECT_EQ(plan({kHeavy, kIdle}), (std::vector<bool>{false, false}));
  EXPECT_EQ(plan({}), std::vector<bool>{});
}

TEST(BackgroundPlan, IdleAndSharedWorkersKeepNormalPriority) {
  // A worker a light app shares with a heavy one is the light app's too (WorkerLoad::onlyHeavy
  // is false there); an idle worker has nothing to yield.
  EXPECT_EQ(plan({kLight, kIdle}), (std::vector<bool>{false, false}));
  // onlyHeavy means nothing on a worker no app uses.
  EXPECT_EQ(plan({WorkerLoad{false, true}, kLight}), (std::vector<bool>{false, false}));
}

TEST(BackgroundPlan, TheAnswerIsRecomputedEachTime) {
  std::vector<WorkerLoad> workers{kHeavy, kLight};
  planBackground(workers);
  EXPECT_TRUE(workers[0].background);
  workers[1] = kIdle;  // the light app went quiet
  planBackground(workers);
  EXPECT_FALSE(workers[0].background);
}

}  // namespace
}  // namespace isolated
