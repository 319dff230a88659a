// ZlibStream: round trips in every format, known bytes from gzip(1), chunked input, and the
// errors DecompressionStream reports (corrupt, truncated, trailing data).
#include "worker/zlib_stream.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace isolated::worker {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes bytesOf(const std::string& text) {
  return Bytes(text.begin(), text.end());
}

// Runs `input` through a fresh stream in chunks of `chunk` bytes; returns the output, or the
// error in `error`.
Bytes run(ZlibFormat format, ZlibStream::Mode mode, const Bytes& input, size_t chunk,
          std::string& error) {
  auto stream = ZlibStream::create(format, mode);
  EXPECT_NE(stream, nullptr);
  Bytes out;
  size_t offset = 0;
  do {
    size_t n = std::min(chunk, input.size() - offset);
    bool last = offset + n == input.size();
    auto failed = stream->write(std::span(input.data() + offset, n), last, out);
    if (failed) {
      error = *failed;
      EXPECT_TRUE(stream->closed());
      return out;
    }
    offset += n;
  } while (offset < input.size());
  EXPECT_TRUE(stream->closed());
  return out;
}

Bytes compress(ZlibFormat format, const Bytes& input, size_t chunk = 1 << 20) {
  std::string error;
  Bytes out = run(format, ZlibStream::Mode::kCompress, input, chunk, error);
  EXPECT_EQ(error, "");
  return out;
}

Bytes decompress(ZlibFormat format, const Bytes& input, std::string& error,
                 size_t chunk = 1 << 20) {
  return run(format, ZlibStream::Mode::kDecompress, input, chunk, error);
}

// `printf 'hello, world\n' | gzip -n -9`
const Bytes kGzipHello = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb,
                          0x48, 0xcd, 0xc9, 0xc9, 0xd7, 0x51, 0x28, 0xcf, 0x2f, 0xca, 0x49,
                          0xe1, 0x02, 0x00, 0x53, 0x74, 0x24, 0xf4, 0x0d, 0x00, 0x00, 0x00};
// Python's zlib.compress(b'hello, world\n'): the zlib ("deflate") format.
const Bytes kDeflateHello = {120, 156, 203, 72,  205, 201, 201, 215, 81, 40, 207,
                             47,  202, 73,  225, 2,   0,   33,  231, 4,  147};

TEST(ZlibStreamTest, DecompressesKnownBytes) {
  std::string error;
  EXPECT_EQ(decompress(ZlibFormat::kGzip, kGzipHello, error), bytesOf("hello, world\n"));
  EXPECT_EQ(error, "");
  EXPECT_EQ(decompress(ZlibFormat::kDeflate, kDeflateHello, error), bytesOf("hello, world\n"));
  EXPECT_EQ(error, "");
  // deflate-raw is the zlib format without its 2-byte header and 4-byte checksum.
  Bytes raw(kDeflateHello.begin() + 2, kDeflateHello.end() - 4);
  EXPECT_EQ(decompress(ZlibFormat::kDeflateRaw, raw, error), bytesOf("hello, world\n"));
  EXPECT_EQ(error, "");
}

TEST(ZlibStreamTest, RoundTripsInEveryFormatAndChunking) {
  std::mt19937 random(42);
  Bytes input(300000);
  for (size_t i = 0; i < input.size(); ++i) {
    // Compressible but not trivial.
    input[i] = static_cast<uint8_t>(i % 251 < 200 ? 'a' + i % 7 : random());
  }
  for (ZlibFormat format : {ZlibFormat::kGzip, ZlibFormat::kDeflate, ZlibFormat::kDeflateRaw}) {
    Bytes packed = compress(format, input, 1000);
    EXPECT_LT(packed.size(), input.size());
    for (size_t chunk : {size_t{1}, size_t{7}, size_t{4096}, packed.size()}) {
      std::string error;
      EXPECT_EQ(decompress(format, packed, error, chunk), input) << chunk;
      EXPECT_EQ(error, "");
    }
  }
  Bytes gz = compress(ZlibFormat::kGzip, bytesOf("x"));
  ASSERT_GE(gz.size(), 2u);
  EXPECT_EQ(gz[0], 0x1f);
  EXPECT_EQ(gz[1], 0x8b);
  // An empty input still makes a complete stream.
  std::string error;
  EXPECT_EQ(decompress(ZlibFormat::kGzip, compress(ZlibFormat::kGzip, {}), error), Bytes{});
  EXPECT_EQ(error, "");
}

TEST(ZlibStreamTest, ReportsTruncatedCorruptAndTrailingInput) {
  std::string error;
  Bytes truncated(kGzipHello.begin(), kGzipHello.end() - 5);
  decompress(ZlibFormat::kGzip, truncated, error);
  EXPECT_EQ(error, "the compressed data ended before the end of its stream");

  error.clear();
  Bytes corrupt = kGzipHello;
  corrupt[3] = 0xff;  // reserved flag bits
  decompress(ZlibFormat::kGzip, corrupt, error);
  EXPECT_EQ(error.rfind("the compressed data is invalid", 0), 0u) << error;

  error.clear();
  Bytes trailing = kGzipHello;
  trailing.push_back(0);
  decompress(ZlibFormat::kGzip, trailing, error);
  EXPECT_EQ(error, "junk found after the end of the compressed data");

  error.clear();
  decompress(ZlibFormat::kDeflate, kGzipHello, error);  // wrong format
  EXPECT_EQ(error.rfind("the compressed data is invalid", 0), 0u) << error;
}

TEST(ZlibStreamTest, BoundsTheOutputOfOneWrite) {
  // 100 MB of zeros compress to about 100 KB; one write may not inflate it all.
  Bytes zeros(100u << 20, 0);
  Bytes packed = compress(ZlibFormat::kDeflate, zeros);
  zeros.clear();
  std::string error;
  decompress(ZlibFormat::kDeflate, packed, error);
  EXPECT_EQ(error, "the output of one chunk exceeds 64 MB");
}

TEST(ZlibStreamTest, FormatNames) {
  EXPECT_EQ(parseZlibFormat("gzip"), ZlibFormat::kGzip);
  EXPECT_EQ(parseZlibFormat("deflate"), ZlibFormat::kDeflate);
  EXPECT_EQ(parseZlibFormat("deflate-raw"), ZlibFormat::kDeflateRaw);
  EXPECT_EQ(parseZlibFormat("br"), std::nullopt);
}

}  // namespace
}  // namespace isolated::worker
