// Placement: rendezvous order, home sets, spreading, overflow and capacity.
#include "supervisor/pool/placement.h"

#include "allocation_counter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace isolated {
namespace {

std::vector<PlacementCandidate> workers(uint32_t count, uint32_t capacity = 100) {
  std::vector<PlacementCandidate> out;
  for (uint32_t i = 0; i < count; ++i)
    out.push_back(PlacementCandidate{i, true, 0, capacity, 0});
  return out;
}

// The slot of the app's first home among `candidates`.
uint32_t firstHome(const std::string& app, const std::vector<PlacementCandidate>& candidates) {
  std::vector<PlacementRank> scratch(candidates.size());
  size_t n = Placement::rank(Placement::appKey(app), candidates, scratch);
  EXPECT_GT(n, 0u);
  return candidates[scratch[0].index].slot;
}

std::vector<uint32_t> order(const std::string& app,
                            const std::vector<PlacementCandidate>& candidates) {
  std::vector<PlacementRank> scratch(candidates.size());
  size_t n = Placement::rank(Placement::appKey(app), candidates, scratch);
  std::vector<uint32_t> slots;
  for (size_t i = 0; i < n; ++i)
    slots.push_back(candidates[scratch[i].index].slot);
  return slots;
}

std::optional<uint32_t> pickSlot(const Placement& placement, const std::string& app,
                                 uint32_t appOutstanding,
                                 const std::vector<PlacementCandidate>& candidates,
                                 uint32_t appCapacity = UINT32_MAX) {
  std::vector<PlacementRank> scratch(candidates.size());
  auto index =
      placement.pick(Placement::appKey(app), appOutstanding, candidates, scratch, appCapacity);
  if (!index) return std::nullopt;
  return candidates[*index].slot;
}

TEST(PlacementTest, KeysAndOrdersAreDeterministic) {
  EXPECT_EQ(Placement::appKey("shop"), Placement::appKey("shop"));
  EXPECT_NE(Placement::appKey("shop"), Placement::appKey("shoq"));
  EXPECT_NE(Placement::appKey(""), Placement::appKey("a"));
  // A fixed value: the same on every machine and run (no std::hash, no seed).
  EXPECT_EQ(Placement::appKey("shop"), Placement::appKey(std::string("sh") + "op"));
  auto w = workers(8);
  EXPECT_EQ(order("shop", w), order("shop", w));
  // Candidate order in the input does not matter; slots do.
  auto reversed = w;
  std::reverse(reversed.begin(), reversed.end());
  EXPECT_EQ(order("shop", w), order("shop", reversed));
  // Different apps get different orders (with 8 workers, 100 apps cannot all agree).
  std::map<uint32_t, int> firsts;
  for (int i = 0; i < 100; ++i)
    firsts[firstHome("app" + std::to_string(i), w)]++;
  EXPECT_GT(firsts.size(), 4u);
}

TEST(PlacementTest, FirstHomesAreBalanced) {
  for (uint32_t n : {2u, 4u, 7u, 16u}) {
    auto w = workers(n);
    std::map<uint32_t, int> count;
    const int apps = 1000;
    for (int i = 0; i < apps; ++i)
      count[firstHome("tenant-" + std::to_string(i), w)]++;
    double fair = static_cast<double>(apps) / n;
    ASSERT_EQ(count.size(), n);
    for (auto [slot, c] : count) {
      // Binomial spread: within 35% of the fair share for 1000 apps on up to 16 workers.
      EXPECT_GT(c, fair * 0.65) << "slot " << slot << " of " << n;
      EXPECT_LT(c, fair * 1.35) << "slot " << slot << " of " << n;
    }
  }
}

TEST(PlacementTest, RemovingAWorkerMovesOnlyItsApps) {
  auto before = workers(6);
  auto after = before;
  after.erase(after.begin() + 2);  // slot 2 goes away
  int moved = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string app = "app-" + std::to_string(i);
    uint32_t was = firstHome(app, before);
    uint32_t now = firstHome(app, after);
    if (was != 2) {
      EXPECT_EQ(was, now) << app;
    } else {
      ++moved;
      // It moves to its second choice, which is unchanged.
      EXPECT_EQ(now, order(app, before)[1]);
    }
  }
  EXPECT_GT(moved, 100);
  EXPECT_LT(moved, 250);
}

TEST(PlacementTest, NotAcceptingIsLikeRemoved) {
  auto w = workers(6);
  auto draining = w;
  draining[2].accepting = false;
  for (int i = 0; i < 200; ++i) {
    std::string app = "app-" + std::to_string(i);
    auto removed = w;
    removed.erase(removed.begin() + 2);
    EXPECT_EQ(order(app, draining), order(app, removed));
  }
}

TEST(PlacementTest, AddingAWorkerMovesAboutAFairShareOnlyToIt) {
  auto before = workers(4);
  auto after = workers(5);
  int moved = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string app = "app-" + std::to_string(i);
    uint32_t was = firstHome(app, before);
    uint32_t now = firstHome(app, after);
    if (was != now) {
      ++moved;
      EXPECT_EQ(now, 4u) << app << " moved between old workers";
    }
  }
  // About 1/5 of the apps.
  EXPECT_GT(moved, 140);
  EXPECT_LT(moved, 260);
}

TEST(PlacementTest, ReplacedWorkerKeepsItsAppsThroughItsSlot) {
  auto w = workers(4);
  auto replaced = w;
  replaced[1].outstanding = 0;  // a fresh worker in the same slot
  for (int i = 0; i < 100; ++i) {
    std::string app = "a" + std::to_string(i);
    EXPECT_EQ(firstHome(app, w), firstHome(app, replaced));
  }
}

TEST(PlacementTest, IdleAppStaysOnItsFirstHome) {
  Placement placement;
  auto w = workers(4);
  uint32_t home = firstHome("shop", w);
  // Other workers are idler, but one home suffices below the threshold.
  for (auto& c : w)
    c.outstanding = c.slot == home ? 50 : 0;
  for (uint32_t outstanding = 0; outstanding <= 16; ++outstanding) {
    EXPECT_EQ(pickSlot(placement, "shop", outstanding, w), home) << outstanding;
  }
}

TEST(PlacementTest, SpreadsToMoreHomesUnderLoad) {
  Placement placement(16);
  EXPECT_EQ(placement.homeCount(0, 4), 1u);
  EXPECT_EQ(placement.homeCount(16, 4), 1u);
  EXPECT_EQ(placement.homeCount(17, 4), 2u);
  EXPECT_EQ(placement.homeCount(48, 4), 3u);
  EXPECT_EQ(placement.homeCount(1000, 4), 4u);
  EXPECT_EQ(placement.homeCount(1000, 0), 0u);

  auto w = workers(4);
  auto ranked = order("shop", w);
  // First home busier than the second: with 17 in flight the app has two homes and the less
  // outstanding one takes the request; the third in order is never used.
  w[ranked[0]].outstanding = 10;
  w[ranked[1]].outstanding = 3;
  w[ranked[2]].outstanding = 0;
  EXPECT_EQ(pickSlot(placement, "shop", 16, w), ranked[0]);
  EXPECT_EQ(pickSlot(placement, "shop", 17, w), ranked[1]);
  EXPECT_EQ(pickSlot(placement, "shop", 33, w), ranked[2]);
}

TEST(PlacementTest, OntoIdleSpreadsOnlyWhereNoOtherAppIsActive) {
  Placement placement(16, SpreadPolicy::kOntoIdle);
  auto w = workers(4);
  auto ranked = order("shop", w);
  // Two homes by load. The second in order runs another app's requests (outstanding beyond the
  // app's own): the app takes the next worker no other app is using as its second home.
  w[ranked[0]].outstanding = 10;
  w[ranked[0]].appOutstanding = 10;
  w[ranked[1]].outstanding = 1;
  w[ranked[2]].outstanding = 0;
  EXPECT_EQ(pickSlot(placement, "shop", 17, w), ranked[2]);
  // Every other worker busy with other apps: the app stays on its first home.
  w[ranked[2]].outstanding = 2;
  w[ranked[3]].outstanding = 3;
  EXPECT_EQ(pickSlot(placement, "shop", 17, w), ranked[0]);
  EXPECT_EQ(pickSlot(placement, "shop", 1000, w), ranked[0]);
  // The neighbour's requests there have ended: it is a home again.
  w[ranked[1]].outstanding = 0;
  EXPECT_EQ(pickSlot(placement, "shop", 17, w), ranked[1]);
  // Its own requests on a worker do not make it shared.
  w[ranked[1]].outstanding = 4;
  w[ranked[1]].appOutstanding = 4;
  EXPECT_EQ(pickSlot(placement, "shop", 17, w), ranked[1]);
  // The default policy spreads onto the neighbour's worker regardless.
  w[ranked[1]].appOutstanding = 0;
  EXPECT_EQ(pickSlot(Placement(16), "shop", 17, w), ranked[1]);
}

TEST(PlacementTest, OntoIdleLeavesARecentNeighboursWorkerAlone) {
  // A light app between two requests has nothing outstanding on its worker but used it lately
  // (otherApps): the heavy app does not spread onto it.
  Placement placement(16, SpreadPolicy::kOntoIdle);
  auto w = workers(3);
  auto ranked = order("shop", w);
  w[ranked[0]].outstanding = 10;  // its own
  w[ranked[0]].appOutstanding = 10;
  w[ranked[1]].otherApps = 1;
  EXPECT_EQ(pickSlot(placement, "shop", 17, w), ranked[2]);
  w[ranked[2]].otherApps = 2;
  EXPECT_EQ(pickSlot(placement, "shop", 40, w), ranked[0]);
  w[ranked[1]].otherApps = 0;
  EXPECT_EQ(pickSlot(placement, "shop", 17, w), ranked[1]);
}

TEST(PlacementTest, OntoIdleFirstHomeIsUsedEvenWhenShared) {
  Placement placement(16, SpreadPolicy::kOntoIdle);
  auto w = workers(2);
  auto ranked = order("shop", w);
  w[ranked[0]].outstanding = 5;  // another app's
  EXPECT_EQ(pickSlot(placement, "shop", 0, w), ranked[0]);
  EXPECT_EQ(pickSlot(placement, "shop", 17, w), ranked[1]);  // spreads into the idle worker
}

TEST(PlacementTest, OntoIdleIsNoCapOnlyAPreference) {
  // An app with many requests waiting on I/O: when its first home is full it overflows, first to
  // a worker no other app uses, then to a neighbour's, up to every worker's capacity.
  Placement placement(16, SpreadPolicy::kOntoIdle);
  auto w = workers(3, 10);
  auto ranked = order("shop", w);
  w[ranked[0]].outstanding = 10;
  w[ranked[0]].appOutstanding = 10;
  w[ranked[1]].outstanding = 1;  // a neighbour's request
  EXPECT_EQ(pickSlot(placement, "shop", 100, w), ranked[2]);
  w[ranked[2]].outstanding = 10;
  w[ranked[2]].appOutstanding = 10;
  EXPECT_EQ(pickSlot(placement, "shop", 100, w), ranked[1]);
  w[ranked[1]].outstanding = 10;
  EXPECT_EQ(pickSlot(placement, "shop", 100, w), std::nullopt);
  // The same with one home by load: overflow prefers the unshared worker too.
  w = workers(3, 10);
  w[ranked[0]].outstanding = 10;
  w[ranked[0]].appOutstanding = 10;
  w[ranked[1]].outstanding = 1;
  EXPECT_EQ(pickSlot(placement, "shop", 3, w), ranked[2]);
}

TEST(PlacementTest, TiesGoToHashOrder) {
  Placement placement(1);
  auto w = workers(4);
  auto ranked = order("shop", w);
  // Four homes, all equally loaded: the first in the app's order.
  EXPECT_EQ(pickSlot(placement, "shop", 4, w), ranked[0]);
  w[ranked[0]].outstanding = 1;
  EXPECT_EQ(pickSlot(placement, "shop", 4, w), ranked[1]);
}

TEST(PlacementTest, OverflowFollowsHashOrder) {
  Placement placement;
  auto w = workers(4, 10);
  auto ranked = order("shop", w);
  w[ranked[0]].outstanding = 10;  // full
  w[ranked[1]].outstanding = 10;  // full
  w[ranked[2]].outstanding = 9;   // room, but busier than the last
  w[ranked[3]].outstanding = 0;
  EXPECT_EQ(pickSlot(placement, "shop", 0, w), ranked[2]);
  w[ranked[2]].outstanding = 10;
  EXPECT_EQ(pickSlot(placement, "shop", 0, w), ranked[3]);
  w[ranked[3]].outstanding = 10;
  EXPECT_EQ(pickSlot(placement, "shop", 0, w), std::nullopt);
}

TEST(PlacementTest, AppCapacityPerWorkerIsRespected) {
  Placement placement;
  auto w = workers(3);
  auto ranked = order("shop", w);
  // One request of this app per worker (context isolation): the home holds one already.
  w[ranked[0]].appOutstanding = 1;
  EXPECT_EQ(pickSlot(placement, "shop", 1, w, 1), ranked[1]);
  w[ranked[1]].appOutstanding = 1;
  w[ranked[2]].appOutstanding = 1;
  EXPECT_EQ(pickSlot(placement, "shop", 3, w, 1), std::nullopt);
  // Unbounded per-app capacity: the home takes it.
  EXPECT_EQ(pickSlot(placement, "shop", 3, w), ranked[0]);
}

TEST(PlacementTest, NoAcceptingWorkerMeansNone) {
  Placement placement;
  auto w = workers(3);
  for (auto& c : w)
    c.accepting = false;
  EXPECT_EQ(pickSlot(placement, "shop", 0, w), std::nullopt);
  EXPECT_EQ(pickSlot(placement, "shop", 0, {}), std::nullopt);
}

TEST(PlacementTest, CapacityNeverExceededUnderSimulatedLoad) {
  // Admit requests of 50 apps until nothing has room; no worker ever goes past capacity, and
  // every worker ends full (overflow finds all room).
  Placement placement(4);
  auto w = workers(5, 20);
  std::map<std::string, uint32_t> perApp;
  std::vector<std::map<std::string, uint32_t>> perWorker(w.size());
  std::vector<PlacementRank> scratch(w.size());
  int admitted = 0;
  for (int round = 0; round < 1000; ++round) {
    std::string app = "app" + std::to_string(round % 50);
    for (size_t i = 0; i < w.size(); ++i)
      w[i].appOutstanding = perWorker[i][app];
    auto index = placement.pick(Placement::appKey(app), perApp[app], w, scratch, 3);
    if (!index) continue;
    ++admitted;
    ASSERT_LT(w[*index].outstanding, w[*index].capacity);
    ASSERT_LT(perWorker[*index][app], 3u);
    w[*index].outstanding++;
    perWorker[*index][app]++;
    perApp[app]++;
  }
  EXPECT_EQ(admitted, 100);
  for (const auto& c : w)
    EXPECT_EQ(c.outstanding, c.capacity);
}

TEST(PlacementTest, PickAllocatesNothing) {
  Placement placement(2);
  auto w = workers(16, 4);
  std::vector<PlacementRank> scratch(w.size());
  uint64_t key = Placement::appKey("shop");
  size_t before = allocationCount();
  size_t picked = 0;
  for (uint32_t outstanding = 0; outstanding < 64; ++outstanding) {
    auto index = placement.pick(key, outstanding, w, scratch, 2);
    if (index) {
      ++picked;
      w[*index].outstanding++;
    }
  }
  EXPECT_EQ(allocationCount(), before);
  EXPECT_EQ(picked, 64u);  // homes, then overflow through the hash order
}

}  // namespace
}  // namespace isolated
