// The Channel over a real socketpair: ordered delivery, large and malformed frames, the
// handler's batch order, peer close and local close.
#include "ipc/channel.h"

#include <capnp/message.h>
#include <event2/event.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "common/event_handles.h"
#include "common/syscall.h"
#include "common/unique_fd.h"
#include "ipc/framing.h"
#include "ipc/messages.capnp.h"
#include "ipc/protocol.h"
#include "tests/frame_samples.h"

namespace isolated::ipc {
namespace {

using test::encodePing;
using test::fillRequestStart;
using test::newBuffer;
using test::pingsThenBadHeader;
using test::singleSegmentHeader;

struct Received {
  Envelope::Which which;
  uint64_t seq = 0;
  size_t bodySize = 0;
};

class RecordingHandler : public ChannelHandler {
 public:
  void onMessage(Envelope::Reader message) override {
    Received r{message.which()};
    if (message.isPing()) r.seq = message.getPing().getSeq();
    // Reading through the union may throw on a corrupt message; the Channel must catch it.
    if (message.isRequestStart()) {
      auto request = message.getRequestStart();
      r.seq = request.getId();
      r.bodySize = request.getBody().size();
    }
    messages.push_back(r);
  }
  void onClosed(const std::string& reason) override {
    ++closedCalls;
    closedReason = reason;
  }

  std::vector<Received> messages;
  int closedCalls = 0;
  std::string closedReason;
};

class ChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_.reset(event_base_new());
    ASSERT_TRUE(base_);
    // A periodic tick guarantees that EVLOOP_ONCE returns even when no I/O is pending, so a
    // failing test ends instead of hanging.
    tick_.reset(event_new(
        base_.get(), -1, EV_PERSIST, [](evutil_socket_t, short, void*) {}, nullptr));
    timeval tv = millisToTimeval(10);
    event_add(tick_.get(), &tv);
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    left_.reset(sv[0]);
    right_.reset(sv[1]);
  }

  // Runs the loop until `done` holds; false after a bounded number of iterations or ten seconds,
  // whichever comes first.
  bool runUntil(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (int i = 0; i < 100000 && std::chrono::steady_clock::now() < deadline; ++i) {
      if (done()) return true;
      event_base_loop(base_.get(), EVLOOP_ONCE);
    }
    return done();
  }

  // Writes raw bytes into `left_` (the peer of a Channel on `right_`).
  void writeRaw(const std::vector<uint8_t>& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::write(left_.get(), bytes.data() + off, bytes.size() - off);
      ASSERT_GT(n, 0) << errnoText(errno);
      off += static_cast<size_t>(n);
    }
  }

  void expectClosedWith(const std::vector<uint8_t>& garbage, const std::string& reasonPart) {
    RecordingHandler handler;
    Channel channel(base_.get(), std::move(right_), FrameLimits{}, handler);
    writeRaw(garbage);
    ASSERT_TRUE(runUntil([&] { return handler.closedCalls > 0; }));
    EXPECT_EQ(handler.closedCalls, 1);
    EXPECT_NE(handler.closedReason.find(reasonPart), std::string::npos) << handler.closedReason;
    EXPECT_TRUE(handler.messages.empty());
    EXPECT_FALSE(channel.open());
  }

  // Declared before the events that use it, so it is destroyed last.
  EventBasePtr base_;
  EventPtr tick_;
  UniqueFd left_;
  UniqueFd right_;
};

TEST_F(ChannelTest, DeliversManyMessagesInOrder) {
  RecordingHandler senderHandler;
  RecordingHandler receiverHandler;
  {
    Channel sender(base_.get(), std::move(left_), FrameLimits{}, senderHandler);
    Channel receiver(base_.get(), std::move(right_), FrameLimits{}, receiverHandler);
    constexpr uint64_t kCount = 1000;
    for (uint64_t i = 0; i < kCount; ++i) {
      capnp::MallocMessageBuilder builder;
      builder.initRoot<Envelope>().initPing().setSeq(i);
      sender.send(builder);
    }
    // Nothing is written until the loop runs: the frames are batched in the output buffer.
    EXPECT_EQ(sender.pendingOutputBytes(), kCount * encodePing(0).size());

    ASSERT_TRUE(runUntil([&] { return receiverHandler.messages.size() >= kCount; }));
    ASSERT_EQ(receiverHandler.messages.size(), kCount);
    for (uint64_t i = 0; i < kCount; ++i) {
      EXPECT_EQ(receiverHandler.messages[i].which, Envelope::PING);
      EXPECT_EQ(receiverHandler.messages[i].seq, i);
    }
    EXPECT_EQ(sender.pendingOutputBytes(), 0u);
    EXPECT_EQ(receiverHandler.closedCalls, 0);
    EXPECT_EQ(senderHandler.closedCalls, 0);
  }
}

TEST_F(ChannelTest, DeliversALargeMessageThatArrivesInManyReads) {
  RecordingHandler senderHandler;
  RecordingHandler receiverHandler;
  Channel sender(base_.get(), std::move(left_), FrameLimits{}, senderHandler);
  Channel receiver(base_.get(), std::move(right_), FrameLimits{}, receiverHandler);
  std::string body(4u << 20, 'b');
  for (uint64_t id = 1; id <= 3; ++id) {
    capnp::MallocMessageBuilder builder;
    fillRequestStart(builder, id, body);
    sender.send(builder);
  }
  ASSERT_TRUE(runUntil([&] { return receiverHandler.messages.size() >= 3; }));
  ASSERT_EQ(receiverHandler.messages.size(), 3u);
  for (uint64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(receiverHandler.messages[i].which, Envelope::REQUEST_START);
    EXPECT_EQ(receiverHandler.messages[i].seq, i + 1);
    EXPECT_EQ(receiverHandler.messages[i].bodySize, body.size());
  }
  EXPECT_EQ(receiverHandler.closedCalls, 0);
}

TEST_F(ChannelTest, HugeDeclaredSizeIsAProtocolError) {
  expectClosedWith(singleSegmentHeader(0x7FFFFFFFu), "protocol error");
}

TEST_F(ChannelTest, TooManySegmentsIsAProtocolError) {
  std::vector<uint8_t> bytes(8, 0xFF);
  expectClosedWith(bytes, "protocol error");
}

TEST_F(ChannelTest, GarbagePointerIsMalformed) {
  // A well-sized frame whose words are all 0xFF: the root is not a struct pointer.
  auto bytes = singleSegmentHeader(4);
  bytes.resize(bytes.size() + 4 * 8, 0xFF);
  expectClosedWith(bytes, "malformed");
}

TEST_F(ChannelTest, OutOfBoundsRootIsMalformed) {
  // Root struct pointer with a far-away offset inside a two-word segment.
  auto bytes = singleSegmentHeader(2);
  uint64_t root = (uint64_t{0x1000} << 2) | (uint64_t{1} << 32);
  uint64_t filler = 0;
  bytes.resize(bytes.size() + 16);
  memcpy(bytes.data() + 8, &root, 8);
  memcpy(bytes.data() + 16, &filler, 8);
  expectClosedWith(bytes, "malformed");
}

TEST_F(ChannelTest, EmptySegmentIsMalformed) {
  expectClosedWith(singleSegmentHeader(0), "malformed");
}

TEST_F(ChannelTest, CorruptFieldReadInHandlerIsMalformed) {
  // A valid Envelope root selecting requestStart, whose pointer is garbage: only reading the
  // field inside the handler throws.
  uint64_t words[3] = {
      (uint64_t{1} << 32) | (uint64_t{1} << 48),       // root: struct at +0, 1 data word, 1 pointer
      static_cast<uint64_t>(Envelope::REQUEST_START),  // union discriminant
      ~uint64_t{0},                                    // requestStart: not a struct pointer
  };
  auto bytes = singleSegmentHeader(3);
  bytes.resize(bytes.size() + sizeof words);
  memcpy(bytes.data() + 8, words, sizeof words);
  {
    // The crafted frame really does decode to a requestStart whose read throws.
    auto buffer = newBuffer();
    evbuffer_add(buffer.get(), bytes.data(), bytes.size());
    DecodeResult frame = decodeFrame(buffer.get(), FrameLimits{});
    ASSERT_EQ(frame.status, DecodeStatus::kFrame) << frame.error;
    capnp::FlatArrayMessageReader reader(frame.words);
    auto envelope = reader.getRoot<Envelope>();
    ASSERT_EQ(envelope.which(), Envelope::REQUEST_START);
    EXPECT_ANY_THROW(envelope.getRequestStart());
  }

  RecordingHandler handler;
  Channel channel(base_.get(), std::move(right_), FrameLimits{}, handler);
  writeRaw(bytes);
  ASSERT_TRUE(runUntil([&] { return handler.closedCalls > 0; }));
  EXPECT_NE(handler.closedReason.find("malformed"), std::string::npos) << handler.closedReason;
  EXPECT_TRUE(handler.messages.empty());
}

TEST_F(ChannelTest, ValidFramesBeforeGarbageAreDelivered) {
  RecordingHandler handler;
  Channel channel(base_.get(), std::move(right_), FrameLimits{}, handler);
  std::vector<uint8_t> bytes = pingsThenBadHeader(3);
  // Anything after the bad header must be ignored.
  auto after = encodePing(99);
  bytes.insert(bytes.end(), after.begin(), after.end());
  writeRaw(bytes);

  ASSERT_TRUE(runUntil([&] { return handler.closedCalls > 0; }));
  EXPECT_NE(handler.closedReason.find("protocol error"), std::string::npos) << handler.closedReason;
  ASSERT_EQ(handler.messages.size(), 3u);
  for (uint64_t i = 0; i < 3; ++i)
    EXPECT_EQ(handler.messages[i].seq, i);
}

// A handler that asks for the messages of one read in reverse order, and sees every batch.
class ReversingHandler : public RecordingHandler {
 public:
  bool ordersBatches() const override { return true; }
  void orderBatch(std::span<const Envelope::Reader> batch, std::vector<uint32_t>& order) override {
    batchSizes.push_back(batch.size());
    for (size_t i = batch.size(); i > 0; --i)
      order.push_back(static_cast<uint32_t>(i - 1));
  }
  std::vector<size_t> batchSizes;
};

TEST_F(ChannelTest, TheHandlerMayOrderTheFramesOfOneRead) {
  ReversingHandler handler;
  Channel channel(base_.get(), std::move(right_), FrameLimits{}, handler);
  std::vector<uint8_t> bytes;
  for (uint64_t i = 0; i < 5; ++i) {
    auto frame = encodePing(i);
    bytes.insert(bytes.end(), frame.begin(), frame.end());
  }
  writeRaw(bytes);  // one write of 5 small frames: one read
  ASSERT_TRUE(runUntil([&] { return handler.messages.size() >= 5; }));
  ASSERT_EQ(handler.batchSizes, std::vector<size_t>{5});
  ASSERT_EQ(handler.messages.size(), 5u);
  for (uint64_t i = 0; i < 5; ++i)
    EXPECT_EQ(handler.messages[i].seq, 4 - i);
  EXPECT_EQ(handler.closedCalls, 0);
}

TEST_F(ChannelTest, FramesBeforeGarbageAreStillOrderedThenTheChannelFails) {
  ReversingHandler handler;
  Channel channel(base_.get(), std::move(right_), FrameLimits{}, handler);
  std::vector<uint8_t> bytes = pingsThenBadHeader(3);
  writeRaw(bytes);
  ASSERT_TRUE(runUntil([&] { return handler.closedCalls > 0; }));
  EXPECT_NE(handler.closedReason.find("protocol error"), std::string::npos) << handler.closedReason;
  ASSERT_EQ(handler.messages.size(), 3u);
  for (uint64_t i = 0; i < 3; ++i)
    EXPECT_EQ(handler.messages[i].seq, 2 - i);
}

TEST_F(ChannelTest, PeerCloseIsReported) {
  RecordingHandler handler;
  Channel channel(base_.get(), std::move(right_), FrameLimits{}, handler);
  left_.reset();
  ASSERT_TRUE(runUntil([&] { return handler.closedCalls > 0; }));
  EXPECT_EQ(handler.closedCalls, 1);
  EXPECT_NE(handler.closedReason.find("peer closed"), std::string::npos) << handler.closedReason;
  EXPECT_FALSE(channel.open());
}

TEST_F(ChannelTest, PeerThatStopsReadingAndLeavesIsReportedOnce) {
  RecordingHandler handler;
  Channel channel(base_.get(), std::move(right_), FrameLimits{}, handler);
  // More than the socket buffer holds: the channel waits for the peer to drain it.
  std::string body(8u << 20, 'x');
  capnp::MallocMessageBuilder builder;
  fillRequestStart(builder, 1, body);
  channel.send(builder);
  ASSERT_TRUE(runUntil([&] { return channel.pendingOutputBytes() < body.size(); }));
  EXPECT_GT(channel.pendingOutputBytes(), 0u);
  left_.reset();
  ASSERT_TRUE(runUntil([&] { return handler.closedCalls > 0; }));
  EXPECT_EQ(handler.closedCalls, 1);
  EXPECT_FALSE(channel.open());
  EXPECT_EQ(channel.pendingOutputBytes(), 0u);
  event_base_loop(base_.get(), EVLOOP_NONBLOCK);
  EXPECT_EQ(handler.closedCalls, 1);
}

TEST_F(ChannelTest, SendAfterCloseIsDropped) {
  RecordingHandler handler;
  Channel channel(base_.get(), std::move(right_), FrameLimits{}, handler);
  left_.reset();
  ASSERT_TRUE(runUntil([&] { return handler.closedCalls > 0; }));
  capnp::MallocMessageBuilder builder;
  builder.initRoot<Envelope>().initPing().setSeq(1);
  channel.send(builder);
  EXPECT_EQ(channel.pendingOutputBytes(), 0u);
  // Further loop turns do not report the close again.
  event_base_loop(base_.get(), EVLOOP_NONBLOCK);
  EXPECT_EQ(handler.closedCalls, 1);
}

TEST_F(ChannelTest, LocalCloseDoesNotCallOnClosed) {
  RecordingHandler handler;
  Channel channel(base_.get(), std::move(right_), FrameLimits{}, handler);
  channel.close();
  EXPECT_FALSE(channel.open());
  // The socket is shut down and closed at once: the peer sees EOF.
  char byte;
  EXPECT_TRUE(runUntil([&] { return ::recv(left_.get(), &byte, 1, MSG_DONTWAIT) == 0; }));
  EXPECT_EQ(handler.closedCalls, 0);
}

}  // namespace
}  // namespace isolated::ipc
