// Dispatcher: least-outstanding first, round-robin among ties, never a full or closed worker.
#include "supervisor/dispatcher.h"

#include <gtest/gtest.h>

namespace isolated::supervisor {
namespace {

TEST(DispatcherTest, PicksFewestOutstanding) {
  Dispatcher d;
  std::vector<DispatchCandidate> c = {{true, 3, 10}, {true, 1, 10}, {true, 2, 10}};
  EXPECT_EQ(d.pick(c), 1u);
}

TEST(DispatcherTest, RoundRobinAmongTies) {
  Dispatcher d;
  std::vector<DispatchCandidate> c = {{true, 0, 10}, {true, 0, 10}, {true, 0, 10}};
  std::vector<size_t> picks;
  for (int i = 0; i < 6; ++i)
    picks.push_back(*d.pick(c));
  EXPECT_EQ(picks, (std::vector<size_t>{0, 1, 2, 0, 1, 2}));
}

TEST(DispatcherTest, SkipsFullAndNotAccepting) {
  Dispatcher d;
  std::vector<DispatchCandidate> c = {{false, 0, 10}, {true, 10, 10}, {true, 9, 10}};
  EXPECT_EQ(d.pick(c), 2u);
  c[2].outstanding = 10;
  EXPECT_EQ(d.pick(c), std::nullopt);
}

TEST(DispatcherTest, EmptyPool) {
  Dispatcher d;
  EXPECT_EQ(d.pick({}), std::nullopt);
}

TEST(DispatcherTest, LoadSpreadsEvenly) {
  Dispatcher d;
  std::vector<DispatchCandidate> c(4, DispatchCandidate{true, 0, 100});
  for (int i = 0; i < 40; ++i)
    ++c[*d.pick(c)].outstanding;
  for (const auto& x : c)
    EXPECT_EQ(x.outstanding, 10u);
}

}  // namespace
}  // namespace isolated::supervisor
