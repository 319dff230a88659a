// ZlibStream (worker/zlib_stream.h) in-process and without V8: round trips, agreement with
// zlib's one-shot API, the per-step bounds on input and output, and the errors for corrupt,
// truncated and trailing data. tests/js/compression.test.js covers the JavaScript API.
#include "worker/zlib_stream.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <vector>

namespace isolated::worker {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes bytesOf(std::string_view text) {
  return Bytes(text.begin(), text.end());
}

struct Outcome {
  Bytes output;
  std::string error;
  size_t steps = 0;
  size_t largestStep = 0;
};

// Runs `input` through a fresh stream as `pieces` chunks and then a finishing empty step,
// with `outputSize` bytes of output room per step.
Outcome drive(ZlibFormat format, ZlibDirection direction, const std::vector<Bytes>& pieces,
              size_t outputSize = 4096) {
  Outcome outcome;
  auto stream = ZlibStream::create(format, direction);
  if (!stream) {
    outcome.error = "create failed";
    return outcome;
  }
  Bytes buffer(outputSize);
  auto feed = [&](const Bytes& piece, bool finish) {
    size_t offset = 0;
    for (;;) {
      ZlibStep step = stream->step(std::span(piece).subspan(offset), buffer, finish);
      EXPECT_LE(step.produced, outputSize);
      ++outcome.steps;
      outcome.largestStep = std::max(outcome.largestStep, step.produced);
      outcome.output.insert(outcome.output.end(), buffer.begin(),
                            buffer.begin() + static_cast<std::ptrdiff_t>(step.produced));
      offset += step.consumed;
      if (!step.error.empty()) {
        outcome.error = step.error;
        return false;
      }
      if (!step.more) return true;
    }
  };
  for (const Bytes& piece : pieces) {
    if (!feed(piece, false)) return outcome;
  }
  if (feed({}, true)) {
    EXPECT_TRUE(stream->ended());
  }
  return outcome;
}

Bytes compress(ZlibFormat format, const Bytes& input) {
  Outcome outcome = drive(format, ZlibDirection::kCompress, {input});
  EXPECT_EQ(outcome.error, "");
  return outcome.output;
}

Outcome decompress(ZlibFormat format, const Bytes& input, size_t outputSize = 4096) {
  return drive(format, ZlibDirection::kDecompress, {input}, outputSize);
}

Bytes sampleInput() {
  Bytes input;
  for (int i = 0; i < 5000; ++i)
    input.push_back(static_cast<uint8_t>((i * 7919) % 251));
  Bytes text = bytesOf("the quick brown fox jumps over the lazy dog ");
  for (int i = 0; i < 100; ++i)
    input.insert(input.end(), text.begin(), text.end());
  return input;
}

constexpr ZlibFormat kFormats[] = {ZlibFormat::kGzip, ZlibFormat::kDeflate,
                                   ZlibFormat::kDeflateRaw};

TEST(ZlibStream, ParsesOnlyTheSpecFormatNames) {
  EXPECT_EQ(parseZlibFormat("gzip"), ZlibFormat::kGzip);
  EXPECT_EQ(parseZlibFormat("deflate"), ZlibFormat::kDeflate);
  EXPECT_EQ(parseZlibFormat("deflate-raw"), ZlibFormat::kDeflateRaw);
  EXPECT_EQ(parseZlibFormat("GZIP"), std::nullopt);
  EXPECT_EQ(parseZlibFormat("x-gzip"), std::nullopt);
  EXPECT_EQ(parseZlibFormat(""), std::nullopt);
}

TEST(ZlibStream, RoundTripsEachFormat) {
  Bytes input = sampleInput();
  for (ZlibFormat format : kFormats) {
    Bytes compressed = compress(format, input);
    EXPECT_LT(compressed.size(), input.size());
    Outcome outcome = decompress(format, compressed);
    EXPECT_EQ(outcome.error, "");
    EXPECT_EQ(outcome.output, input);
  }
}

TEST(ZlibStream, AgreesWithZlibsOneShotApi) {
  Bytes input = sampleInput();
  // Ours -> zlib's uncompress() (the zlib wrapper).
  Bytes compressed = compress(ZlibFormat::kDeflate, input);
  Bytes plain(input.size());
  uLongf plainSize = plain.size();
  ASSERT_EQ(uncompress(plain.data(), &plainSize, compressed.data(), compressed.size()), Z_OK);
  plain.resize(plainSize);
  EXPECT_EQ(plain, input);
  // zlib's compress2() -> ours.
  Bytes theirs(compressBound(input.size()));
  uLongf theirsSize = theirs.size();
  ASSERT_EQ(compress2(theirs.data(), &theirsSize, input.data(), input.size(), 9), Z_OK);
  theirs.resize(theirsSize);
  EXPECT_EQ(decompress(ZlibFormat::kDeflate, theirs).output, input);
}

TEST(ZlibStream, WritesTheFormatsHeaders) {
  Bytes gzip = compress(ZlibFormat::kGzip, bytesOf("x"));
  ASSERT_GE(gzip.size(), 18u);
  EXPECT_EQ(gzip[0], 0x1f);
  EXPECT_EQ(gzip[1], 0x8b);
  Bytes deflate = compress(ZlibFormat::kDeflate, bytesOf("x"));
  EXPECT_EQ(deflate[0], 0x78);
  EXPECT_EQ((deflate[0] * 256 + deflate[1]) % 31, 0);
}

TEST(ZlibStream, AcceptsInputSplitAnywhere) {
  Bytes input = bytesOf("split me at every byte, please; split me at every byte");
  for (ZlibFormat format : kFormats) {
    Bytes compressed = compress(format, input);
    for (size_t cut = 0; cut <= compressed.size(); ++cut) {
      std::vector<Bytes> pieces{Bytes(compressed.begin(), compressed.begin() + cut),
                                Bytes(compressed.begin() + cut, compressed.end())};
      Outcome outcome = drive(format, ZlibDirection::kDecompress, pieces, 1);
      EXPECT_EQ(outcome.error, "") << "cut at " << cut;
      EXPECT_EQ(outcome.output, input) << "cut at " << cut;
    }
  }
}

TEST(ZlibStream, BoundsEachStepsInputAndOutput) {
  // 10 MB of zeros: a few KB compressed, so one input chunk expands 1000-fold.
  Bytes zeros(10 * 1024 * 1024, 0);
  auto compressor = ZlibStream::create(ZlibFormat::kGzip, ZlibDirection::kCompress);
  Bytes out(64 * 1024);
  ZlibStep first = compressor->step(zeros, out, false);
  EXPECT_LE(first.consumed, ZlibStream::kMaxStepInput);
  EXPECT_TRUE(first.more);

  Bytes compressed = compress(ZlibFormat::kGzip, zeros);
  EXPECT_LT(compressed.size(), 64u * 1024);
  Outcome outcome = decompress(ZlibFormat::kGzip, compressed, 64 * 1024);
  EXPECT_EQ(outcome.error, "");
  EXPECT_EQ(outcome.output.size(), zeros.size());
  EXPECT_EQ(outcome.largestStep, 64u * 1024);
  EXPECT_GE(outcome.steps, zeros.size() / (64 * 1024));
}

TEST(ZlibStream, EmptyInputIsAValidStreamButNoBytesAreNot) {
  for (ZlibFormat format : kFormats) {
    Bytes compressed = compress(format, {});
    EXPECT_FALSE(compressed.empty());
    Outcome outcome = decompress(format, compressed);
    EXPECT_EQ(outcome.error, "");
    EXPECT_TRUE(outcome.output.empty());
    EXPECT_EQ(decompress(format, {}).error, "the compressed stream is truncated");
  }
}

TEST(ZlibStream, ReportsTruncatedStreams) {
  for (ZlibFormat format : kFormats) {
    Bytes compressed = compress(format, sampleInput());
    for (size_t length : {size_t{1}, compressed.size() / 2, compressed.size() - 1}) {
      Outcome outcome = decompress(format, Bytes(compressed.begin(), compressed.begin() + length));
      EXPECT_EQ(outcome.error, "the compressed stream is truncated") << length;
    }
  }
}

TEST(ZlibStream, ReportsCorruptStreams) {
  Bytes gzip = compress(ZlibFormat::kGzip, sampleInput());
  gzip[gzip.size() - 8] ^= 1;  // the CRC-32
  EXPECT_NE(decompress(ZlibFormat::kGzip, gzip).error.find("corrupt"), std::string::npos);
  Bytes deflate = compress(ZlibFormat::kDeflate, sampleInput());
  deflate[1] ^= 1;  // the header check
  EXPECT_NE(decompress(ZlibFormat::kDeflate, deflate).error.find("corrupt"), std::string::npos);
  EXPECT_NE(decompress(ZlibFormat::kDeflateRaw, Bytes{0xff, 0xff}).error.find("corrupt"),
            std::string::npos);
  // A gzip stream is not accepted as zlib-wrapped data or the reverse.
  EXPECT_NE(decompress(ZlibFormat::kDeflate, compress(ZlibFormat::kGzip, {})).error, "");
  EXPECT_NE(decompress(ZlibFormat::kGzip, compress(ZlibFormat::kDeflate, {})).error, "");
}

TEST(ZlibStream, ReportsDataAfterTheEnd) {
  const std::string kTrailing = "data after the end of the compressed stream";
  for (ZlibFormat format : kFormats) {
    Bytes compressed = compress(format, bytesOf("payload"));
    Bytes joined = compressed;
    joined.push_back(0);
    EXPECT_EQ(decompress(format, joined).error, kTrailing);
    Outcome separate = drive(format, ZlibDirection::kDecompress, {compressed, Bytes{1}});
    EXPECT_EQ(separate.error, kTrailing);
    EXPECT_EQ(separate.output, bytesOf("payload"));
    // Empty pieces after the end are no data.
    Outcome empties = drive(format, ZlibDirection::kDecompress, {compressed, Bytes{}, Bytes{}});
    EXPECT_EQ(empties.error, "");
  }
}

TEST(ZlibStream, StaysFailedAfterAnError) {
  auto stream = ZlibStream::create(ZlibFormat::kDeflate, ZlibDirection::kDecompress);
  Bytes out(64);
  Bytes garbage{0x00, 0x00};
  EXPECT_NE(stream->step(garbage, out, false).error, "");
  Bytes valid = compress(ZlibFormat::kDeflate, bytesOf("x"));
  EXPECT_EQ(stream->step(valid, out, true).error, "the stream has already failed");
}

}  // namespace
}  // namespace isolated::worker
