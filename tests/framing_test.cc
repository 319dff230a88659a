// IPC framing: round trips, the frame arena, partial reads, batching, oversize frames.
#include "ipc/framing.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <event2/buffer.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/event_handles.h"
#include "ipc/messages.capnp.h"
#include "ipc/protocol.h"
#include "tests/frame_samples.h"

namespace isolated::ipc {
namespace {

using test::drain;
using test::encodePing;
using test::expectRequestStart;
using test::fillRequestStart;
using test::newBuffer;
using test::singleSegmentHeader;

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

}  // namespace
}  // namespace isolated::ipc
