// CreditSender and CreditReceiver: the window each streamed body is sent under, alone and as a
// pair exchanging chunks and credit the way the supervisor and worker do.
#include "common/credit_window.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <type_traits>

namespace isolated {
namespace {

constexpr uint64_t kWindow = 256u << 10;
constexpr uint64_t kChunk = 64u << 10;

TEST(CreditSender, StartsWithAWholeWindowOfRoom) {
  CreditSender sender(kWindow);
  EXPECT_TRUE(sender.idle());
  EXPECT_EQ(sender.room(), kWindow);
  EXPECT_TRUE(sender.fits(kWindow));
  EXPECT_FALSE(sender.fits(kWindow + 1));
}

TEST(CreditSender, SendingUsesRoomAndCreditRestoresIt) {
  CreditSender sender(kWindow);
  sender.sent(kChunk);
  sender.sent(kChunk);
  EXPECT_EQ(sender.inFlight(), 2 * kChunk);
  EXPECT_EQ(sender.room(), kWindow - 2 * kChunk);
  EXPECT_FALSE(sender.idle());
  EXPECT_TRUE(sender.fits(2 * kChunk));
  EXPECT_FALSE(sender.fits(2 * kChunk + 1));
  EXPECT_EQ(sender.credit(kChunk), kChunk);
  EXPECT_EQ(sender.room(), kWindow - kChunk);
}

TEST(CreditSender, CreditBeyondWhatIsInFlightIsIgnored) {
  CreditSender sender(kWindow);
  EXPECT_EQ(sender.credit(100), 0u);  // nothing sent: nothing to take
  EXPECT_EQ(sender.room(), kWindow);
  sender.sent(10);
  EXPECT_EQ(sender.credit(1000), 10u);
  EXPECT_TRUE(sender.idle());
  EXPECT_EQ(sender.room(), kWindow);  // never more than one window
}

TEST(CreditSender, APiecePastTheWindowLeavesNoRoomUntilCredited) {
  CreditSender sender(100);
  sender.sent(150);  // allowed by a caller only when idle
  EXPECT_EQ(sender.room(), 0u);
  EXPECT_FALSE(sender.fits(0 + 1));
  EXPECT_EQ(sender.credit(60), 60u);
  EXPECT_EQ(sender.room(), 10u);
}

TEST(CreditReceiver, RefusesWhatPassesTheWindowAndRecordsNothing) {
  CreditReceiver receiver(kWindow);
  EXPECT_TRUE(receiver.receive(kWindow - 1));
  EXPECT_TRUE(receiver.accepts(1));
  EXPECT_FALSE(receiver.receive(2));
  EXPECT_EQ(receiver.held(), kWindow - 1);
  EXPECT_TRUE(receiver.receive(1));
  EXPECT_FALSE(receiver.receive(1));
  EXPECT_EQ(receiver.held(), kWindow);
}

TEST(CreditReceiver, GrantsOnlyWhatWasPassedOn) {
  CreditReceiver receiver(kWindow);
  ASSERT_TRUE(receiver.receive(3 * kChunk));
  EXPECT_EQ(receiver.grant(), 0u);  // held, not passed on
  receiver.passedOn(kChunk);
  EXPECT_EQ(receiver.owed(), kChunk);
  EXPECT_EQ(receiver.grant(), kChunk);
  EXPECT_EQ(receiver.grant(), 0u);
  EXPECT_EQ(receiver.held(), 2 * kChunk);
  // Passing on more than is held counts what is held.
  receiver.passedOn(kWindow);
  EXPECT_EQ(receiver.grantAll(), 2 * kChunk);
  EXPECT_EQ(receiver.held(), 0u);
  EXPECT_EQ(receiver.owed(), 0u);
}

TEST(CreditReceiver, AThresholdBatchesGrants) {
  CreditReceiver receiver(kWindow, kWindow / 2);
  ASSERT_TRUE(receiver.receive(kWindow));
  receiver.passedOn(kChunk);
  EXPECT_EQ(receiver.grant(), 0u);
  receiver.passedOn(kChunk);
  EXPECT_EQ(receiver.grant(), 2 * kChunk);
  receiver.passedOn(10);
  EXPECT_EQ(receiver.grant(), 0u);
  EXPECT_EQ(receiver.grantAll(), 10u);  // flushes below the threshold
  EXPECT_EQ(receiver.held(), kWindow - 2 * kChunk - 10);
}

TEST(CreditWindow, HalvesArePlainCounters) {
  // The hot path must not pay for them: trivially copyable, no vtable.
  EXPECT_TRUE(std::is_trivially_copyable_v<CreditSender>);
  EXPECT_TRUE(std::is_trivially_copyable_v<CreditReceiver>);
  EXPECT_FALSE(std::is_polymorphic_v<CreditSender>);
  EXPECT_FALSE(std::is_polymorphic_v<CreditReceiver>);
}

// A sender and a receiver joined by two in-order queues (chunks one way, credit the other),
// the receiver's consumer taking `readSize` at a time: the invariant held <= inFlight <= window
// holds at every step, and everything arrives.
void runPair(uint64_t total, uint64_t readSize, uint64_t threshold) {
  CreditSender sender(kWindow);
  CreditReceiver receiver(kWindow, threshold);
  std::deque<uint64_t> chunks;   // on the way to the receiver
  std::deque<uint64_t> credits;  // on the way back
  uint64_t toSend = total;
  uint64_t buffered = 0;  // received, not yet consumed
  uint64_t consumed = 0;
  int step = 0;
  while (consumed < total) {
    ASSERT_LT(++step, 1'000'000) << "stalled";
    switch (step % 3) {
      case 0:
        if (toSend > 0 && sender.room() > 0) {
          uint64_t n = std::min({toSend, kChunk, sender.room()});
          ASSERT_TRUE(sender.fits(n));
          sender.sent(n);
          chunks.push_back(n);
          toSend -= n;
        }
        break;
      case 1:
        if (!chunks.empty()) {
          ASSERT_TRUE(receiver.receive(chunks.front()));
          buffered += chunks.front();
          chunks.pop_front();
        }
        if (!credits.empty()) {
          EXPECT_EQ(sender.credit(credits.front()), credits.front());
          credits.pop_front();
        }
        break;
      case 2: {
        uint64_t n = std::min(buffered, readSize);
        buffered -= n;
        consumed += n;
        receiver.passedOn(n);
        // An idle receiver flushes what a threshold kept back, or the stream would stall.
        uint64_t grant = buffered == 0 && chunks.empty() ? receiver.grantAll() : receiver.grant();
        if (grant > 0) credits.push_back(grant);
        break;
      }
    }
    ASSERT_LE(receiver.held(), sender.inFlight());
    ASSERT_LE(sender.inFlight(), kWindow);
  }
  EXPECT_EQ(consumed, total);
  EXPECT_EQ(toSend, 0u);
}

TEST(CreditWindow, APairMovesEverythingWithinOneWindow) {
  runPair(8u << 20, kChunk, 1);
  runPair(8u << 20, 1000, 1);  // a slow reader
  runPair(300u << 10, 7, 1);   // a very slow one
  runPair(8u << 20, 4096, kWindow / 2);
  runPair(100, 1, kWindow / 2);  // less than the threshold in all
}

}  // namespace
}  // namespace isolated
