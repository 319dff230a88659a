// One zlib compression or decompression stream (a z_stream and its deflateEnd/inflateEnd), the
// byte work behind CompressionStream and DecompressionStream. No V8 here: the bindings in
// compression_bindings.cc drive it, and tests/zlib_stream_test.cc tests it alone.
//
// The caller feeds input in pieces and bounds the output of each step, so neither a huge input
// chunk nor a decompression bomb makes one step allocate or run unboundedly: a step consumes
// at most kMaxStepInput bytes and writes at most the output span it is given.
//
// Not thread-safe; one owner (a JavaScript stream object on one isolate's thread).
#pragma once

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace isolated::worker {

// The spec's CompressionFormat: "gzip" (RFC 1952), "deflate" (RFC 1950, the zlib wrapper) and
// "deflate-raw" (RFC 1951).
enum class ZlibFormat { kGzip, kDeflate, kDeflateRaw };
enum class ZlibDirection { kCompress, kDecompress };

// The format named `name` exactly (the spec's enum has no aliases); nullopt otherwise.
std::optional<ZlibFormat> parseZlibFormat(std::string_view name);

struct ZlibStep {
  size_t consumed = 0;  // bytes of the input this step used
  size_t produced = 0;  // bytes written to the output span
  // True when calling step() again (with the input after `consumed`) may produce more: the
  // output span filled up, or input remained. False once this piece of input is fully handled
  // (and, when finishing, the stream is complete).
  bool more = false;
  // Non-empty when the input is not a valid stream in the format (corrupt, truncated, or data
  // after its end). The stream is then unusable.
  std::string error;
};

class ZlibStream {
 public:
  // The most input one step consumes, so that each step's CPU time is bounded too.
  static constexpr size_t kMaxStepInput = size_t{1} << 20;

  // nullptr when zlib cannot allocate its state.
  static std::unique_ptr<ZlibStream> create(ZlibFormat format, ZlibDirection direction);
  ~ZlibStream();
  ZlibStream(const ZlibStream&) = delete;
  ZlibStream& operator=(const ZlibStream&) = delete;

  // Processes the start of `input` into `output`. `finish` says that `input` is the last of the
  // stream: compression then writes the trailer; decompression reports a truncated stream if it
  // has not ended when the input runs out. Decompression reports any input after the end of the
  // compressed data as an error (the spec's "trailing data"), in this step or a later one.
  ZlibStep step(std::span<const uint8_t> input, std::span<uint8_t> output, bool finish);

  // True once the compressed stream's end has been written (compression, after a finishing step
  // with more == false) or read (decompression).
  bool ended() const { return ended_; }

 private:
  ZlibStream(ZlibFormat format, ZlibDirection direction);

  ZlibFormat format_;
  ZlibDirection direction_;
  z_stream stream_{};
  bool ended_ = false;
  bool failed_ = false;
};

}  // namespace isolated::worker
