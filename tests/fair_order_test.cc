// The worker's fair order of a batch of messages (worker/fair_order.h): apps take turns, lighter
// apps first, each app's messages and every barrier keep their order.
#include "worker/fair_order.h"

#include <gtest/gtest.h>

#include <vector>

namespace isolated::worker {
namespace {

constexpr uint32_t kBarrier = BatchEntry::kBarrier;

std::vector<uint32_t> ordered(const std::vector<BatchEntry>& entries) {
  FairOrder fair;
  std::vector<uint32_t> order;
  fair.order(entries, order);
  return order;
}

TEST(FairOrder, OneAppKeepsArrivalOrder) {
  EXPECT_EQ(ordered({{7, 3}, {7, 3}, {7, 3}}), (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_EQ(ordered({}), std::vector<uint32_t>{});
  EXPECT_EQ(ordered({{7, 3}}), std::vector<uint32_t>{0});
}

TEST(FairOrder, LightAppBehindABurstGoesFirst) {
  // Heavy app 1 (16 requests active) sent five messages, then light app 2 (none active) one.
  std::vector<BatchEntry> batch = {{1, 16}, {1, 16}, {1, 16}, {1, 16}, {1, 16}, {2, 0}};
  EXPECT_EQ(ordered(batch), (std::vector<uint32_t>{5, 0, 1, 2, 3, 4}));
}

TEST(FairOrder, AppsTakeTurnsLighterFirstInEachRound) {
  // App 1 (load 4): 0, 1, 4; app 2 (load 1): 2, 5; app 3 (load 4, arrived after app 1): 3.
  std::vector<BatchEntry> batch = {{1, 4}, {1, 4}, {2, 1}, {3, 4}, {1, 4}, {2, 1}};
  EXPECT_EQ(ordered(batch), (std::vector<uint32_t>{2, 0, 3, 5, 1, 4}));
}

TEST(FairOrder, EqualLoadsTakeTurnsInArrivalOrder) {
  std::vector<BatchEntry> batch = {{9, 2}, {9, 2}, {4, 2}, {4, 2}};
  EXPECT_EQ(ordered(batch), (std::vector<uint32_t>{0, 2, 1, 3}));
}

TEST(FairOrder, NothingCrossesABarrier) {
  // A LoadApp (barrier) between a heavy app's messages and a light app's first request: the
  // request may not move before the LoadApp that defines its app.
  std::vector<BatchEntry> batch = {{1, 9}, {1, 9}, {kBarrier, 0}, {2, 0}, {1, 9}, {2, 0}};
  EXPECT_EQ(ordered(batch), (std::vector<uint32_t>{0, 1, 2, 3, 4, 5}));
  std::vector<BatchEntry> two = {{1, 9}, {2, 0}, {kBarrier, 0}, {kBarrier, 0}, {1, 9}, {2, 0}};
  EXPECT_EQ(ordered(two), (std::vector<uint32_t>{1, 0, 2, 3, 5, 4}));
}

TEST(FairOrder, EveryIndexOnceAndEachAppInOrder) {
  std::vector<BatchEntry> batch;
  for (uint32_t i = 0; i < 200; ++i) {
    uint32_t app = (i * 7) % 5;
    batch.push_back(i % 37 == 0 ? BatchEntry{} : BatchEntry{app, app * 3});
  }
  std::vector<uint32_t> order = ordered(batch);
  ASSERT_EQ(order.size(), batch.size());
  std::vector<bool> seen(batch.size());
  std::vector<int64_t> lastOfApp(6, -1);
  int64_t lastBarrier = -1;
  for (uint32_t index : order) {
    ASSERT_LT(index, batch.size());
    EXPECT_FALSE(seen[index]) << index;
    seen[index] = true;
    if (batch[index].app == kBarrier) {
      EXPECT_GT(static_cast<int64_t>(index), lastBarrier);
      lastBarrier = index;
      continue;
    }
    // Never before the barrier preceding it in arrival order, never before its app's previous.
    EXPECT_GT(static_cast<int64_t>(index), lastBarrier);
    EXPECT_GT(static_cast<int64_t>(index), lastOfApp[batch[index].app]);
    lastOfApp[batch[index].app] = index;
  }
}

TEST(FairOrder, ScratchIsReusedAcrossBatches) {
  FairOrder fair;
  std::vector<uint32_t> order;
  fair.order(std::vector<BatchEntry>{{1, 5}, {1, 5}, {2, 0}}, order);
  EXPECT_EQ(order, (std::vector<uint32_t>{2, 0, 1}));
  fair.order(std::vector<BatchEntry>{{3, 0}, {4, 1}}, order);
  EXPECT_EQ(order, (std::vector<uint32_t>{0, 1}));
}

}  // namespace
}  // namespace isolated::worker
