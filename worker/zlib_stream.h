// One zlib compression or decompression stream (gzip, deflate or deflate-raw), the native half
// of CompressionStream and DecompressionStream. Owns its z_stream: the destructor (or close())
// releases zlib's state. No V8 here, so it is unit-tested directly.
//
// Errors follow the Compression Streams standard's cases (the runtime turns each message into a
// TypeError): corrupt input, input that ends before the compressed stream does, and data after
// its end. Output per write() is bounded (kMaxOutputPerWrite) so that a small hostile input
// cannot inflate into gigabytes of memory outside the V8 heap limit.
//
// Threading: one thread at a time (the worker's loop thread).
#pragma once

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace isolated::worker {

enum class ZlibFormat { kGzip, kDeflate, kDeflateRaw };
// "gzip", "deflate" or "deflate-raw", as the standard names them.
std::optional<ZlibFormat> parseZlibFormat(std::string_view name);

class ZlibStream {
 public:
  enum class Mode { kCompress, kDecompress };
  static constexpr size_t kMaxOutputPerWrite = 64u << 20;

  // nullptr only when zlib cannot allocate its state.
  static std::unique_ptr<ZlibStream> create(ZlibFormat format, Mode mode);
  ~ZlibStream();
  ZlibStream(const ZlibStream&) = delete;
  ZlibStream& operator=(const ZlibStream&) = delete;

  // Feeds `input` and appends what it produces to `out`. With `finish`, the stream ends:
  // compression writes the trailer; decompression checks that the compressed stream was
  // complete. Returns an error message, after which the stream is closed.
  std::optional<std::string> write(std::span<const uint8_t> input, bool finish,
                                   std::vector<uint8_t>& out);
  // Releases zlib's state now (idempotent); later writes fail.
  void close();
  bool closed() const { return !open_; }

 private:
  explicit ZlibStream(Mode mode) : mode_(mode) {}

  Mode mode_;
  z_stream z_{};
  bool open_ = false;
  // Decompression: the end of the compressed stream has been seen.
  bool ended_ = false;
};

}  // namespace isolated::worker
