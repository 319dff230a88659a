// IPC framing, the Channel over a real socketpair, and fd passing: round trips, partial reads,
// batching, oversize and malformed frames, peer close, SCM_RIGHTS.
#include "ipc/framing.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/event_handles.h"
#include "common/syscall.h"
#include "common/unique_fd.h"
#include "ipc/channel.h"
#include "ipc/fd_passing.h"
#include "ipc/messages.capnp.h"
#include "ipc/protocol.h"

namespace isolated::ipc {
namespace {

EvbufferPtr newBuffer() {
  EvbufferPtr buffer(evbuffer_new());
  if (!buffer) throw std::runtime_error("evbuffer_new failed");
  return buffer;
}

std::vector<uint8_t> drain(evbuffer* buffer) {
  std::vector<uint8_t> bytes(evbuffer_get_length(buffer));
  evbuffer_remove(buffer, bytes.data(), bytes.size());
  return bytes;
}

void fillRequestStart(capnp::MessageBuilder& builder, uint64_t id, const std::string& body) {
  auto request = builder.initRoot<Envelope>().initRequestStart();
  request.setId(id);
  request.setApp(7);
  request.setMethod("POST");
  request.setUrl("http://localhost/path?q=1");
  auto headers = request.initHeaders(2);
  headers[0].setName("content-type");
  headers[0].setValue("text/plain");
  headers[1].setName("x-trace");
  headers[1].setValue("abc");
  request.setClientAddress("127.0.0.1:5555");
  request.setBody(capnp::Data::Reader(reinterpret_cast<const kj::byte*>(body.data()), body.size()));
}

void expectRequestStart(Envelope::Reader envelope, uint64_t id, const std::string& body) {
  ASSERT_EQ(envelope.which(), Envelope::REQUEST_START);
  auto request = envelope.getRequestStart();
  EXPECT_EQ(request.getId(), id);
  EXPECT_EQ(request.getApp(), 7u);
  EXPECT_EQ(std::string(request.getMethod().cStr()), "POST");
  EXPECT_EQ(std::string(request.getUrl().cStr()), "http://localhost/path?q=1");
  auto headers = request.getHeaders();
  ASSERT_EQ(headers.size(), 2u);
  EXPECT_EQ(std::string(headers[0].getName().cStr()), "content-type");
  EXPECT_EQ(std::string(headers[0].getValue().cStr()), "text/plain");
  EXPECT_EQ(std::string(headers[1].getName().cStr()), "x-trace");
  EXPECT_EQ(std::string(headers[1].getValue().cStr()), "abc");
  EXPECT_EQ(std::string(request.getClientAddress().cStr()), "127.0.0.1:5555");
  auto data = request.getBody();
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(data.begin()), data.size()), body);
}

std::vector<uint8_t> encodePing(uint64_t seq) {
  capnp::MallocMessageBuilder builder;
  builder.initRoot<Envelope>().initPing().setSeq(seq);
  auto buffer = newBuffer();
  encodeFrame(builder, buffer.get());
  return drain(buffer.get());
}

// A frame header for one segment of `words` words.
std::vector<uint8_t> singleSegmentHeader(uint32_t words) {
  uint32_t header[2] = {0, words};
  std::vector<uint8_t> bytes(sizeof header);
  memcpy(bytes.data(), header, sizeof header);
  return bytes;
}

// Pings 0..count-1 as valid frames, then a header claiming a segment far over every limit.
std::vector<uint8_t> pingsThenBadHeader(uint64_t count) {
  std::vector<uint8_t> bytes;
  for (uint64_t i = 0; i < count; ++i) {
    auto frame = encodePing(i);
    bytes.insert(bytes.end(), frame.begin(), frame.end());
  }
  auto bad = singleSegmentHeader(0x7FFFFFFFu);
  bytes.insert(bytes.end(), bad.begin(), bad.end());
  return bytes;
}

TEST(FramingTest, RoundTripsARequestStart) {
  // Bodies are binary: an embedded NUL must survive.
  std::string body("hello, \0body", 12);
  capnp::MallocMessageBuilder builder;
  fillRequestStart(builder, 42, body);
  auto buffer = newBuffer();
  encodeFrame(builder, buffer.get());
  size_t encoded = evbuffer_get_length(buffer.get());
  EXPECT_EQ(encoded % 8, 0u);

  DecodeResult result = decodeFrame(buffer.get(), FrameLimits{});
  ASSERT_EQ(result.status, DecodeStatus::kFrame) << result.error;
  EXPECT_EQ(result.words.size() * sizeof(capnp::word), encoded);
  EXPECT_EQ(evbuffer_get_length(buffer.get()), 0u);

  capnp::FlatArrayMessageReader reader(result.words);
  expectRequestStart(reader.getRoot<Envelope>(), 42, body);
}

TEST(FramingTest, RoundTripsAMultiSegmentMessage) {
  // Tiny fixed-size segments force the message across several segments, so the header carries
  // more than one size (and is padded to a whole word).
  capnp::MallocMessageBuilder builder(4, capnp::AllocationStrategy::FIXED_SIZE);
  fillRequestStart(builder, 7, std::string(100, 'x'));
  size_t segments = builder.getSegmentsForOutput().size();
  ASSERT_GT(segments, 1u);
  ASSERT_LE(segments, FrameLimits{}.maxSegments);

  auto buffer = newBuffer();
  encodeFrame(builder, buffer.get());
  DecodeResult result = decodeFrame(buffer.get(), FrameLimits{});
  ASSERT_EQ(result.status, DecodeStatus::kFrame) << result.error;
  capnp::FlatArrayMessageReader reader(result.words);
  EXPECT_EQ(reader.getSegment(static_cast<unsigned>(segments - 1)).size(),
            builder.getSegmentsForOutput()[segments - 1].size());
  expectRequestStart(reader.getRoot<Envelope>(), 7, std::string(100, 'x'));
}

TEST(FramingTest, AnArenaHoldsEveryFrameOfARead) {
  // Frames of several sizes, one of them larger than the arena keeps between reads: each is
  // whole and in order once all are decoded (growing moves earlier frames), and the arena is
  // reusable after clear().
  const std::vector<std::string> bodies = {"a", std::string(5000, 'b'), "",
                                           std::string(FrameArena::kKeepBytes + 1, 'c'), "d"};
  auto buffer = newBuffer();
  for (size_t i = 0; i < bodies.size(); ++i) {
    capnp::MallocMessageBuilder builder;
    fillRequestStart(builder, i + 1, bodies[i]);
    encodeFrame(builder, buffer.get());
  }
  FrameArena arena;
  for (int round = 0; round < 2; ++round) {
    if (round == 1) {
      for (size_t i = 0; i < bodies.size(); ++i) {
        capnp::MallocMessageBuilder builder;
        fillRequestStart(builder, i + 1, bodies[i]);
        encodeFrame(builder, buffer.get());
      }
    }
    std::string error;
    while (decodeFrame(buffer.get(), FrameLimits{}, arena, error) == DecodeStatus::kFrame) {
    }
    EXPECT_EQ(error, "");
    EXPECT_EQ(evbuffer_get_length(buffer.get()), 0u);
    ASSERT_EQ(arena.frames(), bodies.size());
    for (size_t i = 0; i < bodies.size(); ++i) {
      capnp::FlatArrayMessageReader reader(arena.frame(i));
      expectRequestStart(reader.getRoot<Envelope>(), i + 1, bodies[i]);
    }
    arena.clear();
    EXPECT_EQ(arena.frames(), 0u);
  }
  // A bad header is an error, and the frames before it stay readable.
  capnp::MallocMessageBuilder builder;
  fillRequestStart(builder, 9, "x");
  encodeFrame(builder, buffer.get());
  uint32_t countMinusOne = 0xFFFFFFFFu;
  evbuffer_add(buffer.get(), &countMinusOne, sizeof countMinusOne);
  std::string error;
  EXPECT_EQ(decodeFrame(buffer.get(), FrameLimits{}, arena, error), DecodeStatus::kFrame);
  EXPECT_EQ(decodeFrame(buffer.get(), FrameLimits{}, arena, error), DecodeStatus::kError);
  EXPECT_NE(error.find("segments"), std::string::npos) << error;
  ASSERT_EQ(arena.frames(), 1u);
  capnp::FlatArrayMessageReader reader(arena.frame(0));
  expectRequestStart(reader.getRoot<Envelope>(), 9, "x");
}

TEST(FramingTest, EmptyBufferNeedsMore) {
  auto buffer = newBuffer();
  EXPECT_EQ(decodeFrame(buffer.get(), FrameLimits{}).status, DecodeStatus::kNeedMore);
}

// Feeds `bytes` one at a time: every prefix is kNeedMore and leaves the buffer untouched, and the
// final byte completes exactly one frame.
void expectByteByByte(const std::vector<uint8_t>& bytes, uint64_t id, const std::string& body) {
  auto buffer = newBuffer();
  for (size_t i = 0; i + 1 < bytes.size(); ++i) {
    evbuffer_add(buffer.get(), &bytes[i], 1);
    DecodeResult result = decodeFrame(buffer.get(), FrameLimits{});
    ASSERT_EQ(result.status, DecodeStatus::kNeedMore) << "after " << i + 1 << " bytes";
    ASSERT_EQ(evbuffer_get_length(buffer.get()), i + 1) << "after " << i + 1 << " bytes";
  }
  evbuffer_add(buffer.get(), &bytes.back(), 1);
  DecodeResult result = decodeFrame(buffer.get(), FrameLimits{});
  ASSERT_EQ(result.status, DecodeStatus::kFrame) << result.error;
  EXPECT_EQ(evbuffer_get_length(buffer.get()), 0u);
  capnp::FlatArrayMessageReader reader(result.words);
  expectRequestStart(reader.getRoot<Envelope>(), id, body);
}

TEST(FramingTest, PartialReadsOneByteAtATime) {
  capnp::MallocMessageBuilder builder;
  fillRequestStart(builder, 9, "partial body");
  auto encoded = newBuffer();
  encodeFrame(builder, encoded.get());
  expectByteByByte(drain(encoded.get()), 9, "partial body");
}

TEST(FramingTest, PartialReadsOfAMultiSegmentHeader) {
  capnp::MallocMessageBuilder builder(4, capnp::AllocationStrategy::FIXED_SIZE);
  fillRequestStart(builder, 10, "multi");
  ASSERT_GT(builder.getSegmentsForOutput().size(), 2u);
  auto encoded = newBuffer();
  encodeFrame(builder, encoded.get());
  expectByteByByte(drain(encoded.get()), 10, "multi");
}

TEST(FramingTest, BatchedFramesDecodeInOrder) {
  auto buffer = newBuffer();
  for (uint64_t i = 0; i < 100; ++i) {
    capnp::MallocMessageBuilder builder;
    builder.initRoot<Envelope>().initPing().setSeq(i);
    encodeFrame(builder, buffer.get());
  }
  // A partial 101st frame stays behind.
  auto extra = encodePing(100);
  evbuffer_add(buffer.get(), extra.data(), extra.size() - 1);

  for (uint64_t i = 0; i < 100; ++i) {
    DecodeResult result = decodeFrame(buffer.get(), FrameLimits{});
    ASSERT_EQ(result.status, DecodeStatus::kFrame) << "frame " << i << ": " << result.error;
    capnp::FlatArrayMessageReader reader(result.words);
    auto envelope = reader.getRoot<Envelope>();
    ASSERT_EQ(envelope.which(), Envelope::PING);
    EXPECT_EQ(envelope.getPing().getSeq(), i);
  }
  EXPECT_EQ(decodeFrame(buffer.get(), FrameLimits{}).status, DecodeStatus::kNeedMore);
  EXPECT_EQ(evbuffer_get_length(buffer.get()), extra.size() - 1);
}

TEST(FramingTest, OversizeRejectedAsSoonAsHeaderArrives) {
  FrameLimits limits;
  // Header plus body declared: 8 + 8 * words bytes, one byte over the default limit's words.
  uint32_t words = static_cast<uint32_t>(limits.maxMessageBytes / 8);
  auto header = singleSegmentHeader(words);
  auto buffer = newBuffer();
  // Seven header bytes: not yet decidable.
  evbuffer_add(buffer.get(), header.data(), 7);
  EXPECT_EQ(decodeFrame(buffer.get(), limits).status, DecodeStatus::kNeedMore);
  // The eighth completes the header; no body byte has arrived.
  evbuffer_add(buffer.get(), header.data() + 7, 1);
  DecodeResult result = decodeFrame(buffer.get(), limits);
  ASSERT_EQ(result.status, DecodeStatus::kError);
  EXPECT_NE(result.error.find(std::to_string(limits.maxMessageBytes)), std::string::npos)
      << result.error;
}

TEST(FramingTest, OversizeBoundaryIsTheWholeFrame) {
  FrameLimits limits;
  limits.maxMessageBytes = 1024;
  // 8 header bytes + 127 words = 1024 bytes: allowed, waits for the body.
  auto fits = singleSegmentHeader(127);
  auto buffer = newBuffer();
  evbuffer_add(buffer.get(), fits.data(), fits.size());
  EXPECT_EQ(decodeFrame(buffer.get(), limits).status, DecodeStatus::kNeedMore);
  EXPECT_EQ(evbuffer_get_length(buffer.get()), fits.size());

  // One more word is over the limit.
  auto over = singleSegmentHeader(128);
  auto buffer2 = newBuffer();
  evbuffer_add(buffer2.get(), over.data(), over.size());
  DecodeResult result = decodeFrame(buffer2.get(), limits);
  ASSERT_EQ(result.status, DecodeStatus::kError);
  EXPECT_NE(result.error.find("1024"), std::string::npos) << result.error;
}

TEST(FramingTest, HugeSegmentSizesDoNotOverflow) {
  // Many segments each declaring ~4 GiB: the sum must not wrap around to something small.
  std::vector<uint32_t> header(64, 0xFFFFFFFFu);
  header[0] = 62;  // 63 segments; 1 + 63 u32s = 64 u32s, already word-aligned.
  auto buffer = newBuffer();
  evbuffer_add(buffer.get(), header.data(), header.size() * sizeof(uint32_t));
  DecodeResult result = decodeFrame(buffer.get(), FrameLimits{});
  EXPECT_EQ(result.status, DecodeStatus::kError);
}

TEST(FramingTest, TooManySegmentsRejected) {
  FrameLimits limits;
  // count - 1 = 0xFFFFFFFF: rejected from the first four bytes alone.
  uint32_t countMinusOne = 0xFFFFFFFFu;
  auto buffer = newBuffer();
  evbuffer_add(buffer.get(), &countMinusOne, sizeof countMinusOne);
  DecodeResult result = decodeFrame(buffer.get(), limits);
  ASSERT_EQ(result.status, DecodeStatus::kError);
  EXPECT_NE(result.error.find(std::to_string(limits.maxSegments)), std::string::npos)
      << result.error;

  // Exactly one past the limit.
  uint32_t onePast = limits.maxSegments;  // count = maxSegments + 1
  auto buffer2 = newBuffer();
  evbuffer_add(buffer2.get(), &onePast, sizeof onePast);
  EXPECT_EQ(decodeFrame(buffer2.get(), limits).status, DecodeStatus::kError);

  // At the limit it is a (so far incomplete) valid header.
  uint32_t atLimit = limits.maxSegments - 1;
  auto buffer3 = newBuffer();
  evbuffer_add(buffer3.get(), &atLimit, sizeof atLimit);
  EXPECT_EQ(decodeFrame(buffer3.get(), limits).status, DecodeStatus::kNeedMore);
}

// ---- Channel over a socketpair ----------------------------------------------------------------

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

// ---- fd passing -------------------------------------------------------------------------------

struct SocketPair {
  UniqueFd a;
  UniqueFd b;
};

SocketPair makeSocketPair() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    throw SyscallError("socketpair", errno, "test");
  }
  return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

TEST(FdPassingTest, PassesAPipeEnd) {
  SocketPair pair = makeSocketPair();
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  UniqueFd readEnd(p[0]);
  UniqueFd writeEnd(p[1]);

  sendFd(pair.a.get(), writeEnd.get());
  UniqueFd received = receiveFd(pair.b.get());
  ASSERT_TRUE(received.valid());
  EXPECT_NE(received.get(), writeEnd.get());
  EXPECT_TRUE(fcntl(received.get(), F_GETFD) & FD_CLOEXEC);

  // The original can go; the received descriptor keeps the pipe open.
  writeEnd.reset();
  ASSERT_EQ(::write(received.get(), "via fd", 6), 6);
  received.reset();
  char buf[16] = {};
  ASSERT_EQ(::read(readEnd.get(), buf, sizeof buf), 6);
  EXPECT_EQ(std::string(buf, 6), "via fd");
  // Every write end is closed now.
  EXPECT_EQ(::read(readEnd.get(), buf, sizeof buf), 0);
}

TEST(FdPassingTest, PassesSeveralInOrder) {
  SocketPair pair = makeSocketPair();
  std::vector<UniqueFd> readEnds;
  for (int i = 0; i < 3; ++i) {
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    readEnds.emplace_back(p[0]);
    UniqueFd writeEnd(p[1]);
    sendFd(pair.a.get(), writeEnd.get());
  }
  for (int i = 0; i < 3; ++i) {
    UniqueFd received = receiveFd(pair.b.get());
    ASSERT_TRUE(received.valid());
    char c = static_cast<char>('0' + i);
    ASSERT_EQ(::write(received.get(), &c, 1), 1);
  }
  for (int i = 0; i < 3; ++i) {
    char c = 0;
    ASSERT_EQ(::read(readEnds[i].get(), &c, 1), 1);
    EXPECT_EQ(c, static_cast<char>('0' + i));
  }
}

TEST(FdPassingTest, PeerClosedGivesInvalidFd) {
  SocketPair pair = makeSocketPair();
  pair.a.reset();
  EXPECT_FALSE(receiveFd(pair.b.get()).valid());
}

TEST(FdPassingTest, PlainByteGivesInvalidFd) {
  SocketPair pair = makeSocketPair();
  ASSERT_EQ(::write(pair.a.get(), "x", 1), 1);
  EXPECT_FALSE(receiveFd(pair.b.get()).valid());
}

TEST(FdPassingTest, SendToClosedPeerThrows) {
  SocketPair pair = makeSocketPair();
  pair.b.reset();
  // MSG_NOSIGNAL: EPIPE comes back as an error, not as SIGPIPE killing the test.
  EXPECT_THROW(sendFd(pair.a.get(), STDIN_FILENO), SyscallError);
}

}  // namespace
}  // namespace isolated::ipc
