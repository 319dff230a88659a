// A z_stream for one CompressionStream or DecompressionStream: see zlib_stream.h.
#include "worker/zlib_stream.h"

#include <algorithm>
#include <climits>

namespace isolated::worker {

namespace {

// zlib's windowBits: 15 (the largest window), +16 for the gzip wrapper, negative for none.
int windowBits(ZlibFormat format) {
  switch (format) {
    case ZlibFormat::kGzip:
      return 15 + 16;
    case ZlibFormat::kDeflate:
      return 15;
    case ZlibFormat::kDeflateRaw:
      return -15;
  }
  return 15;
}

constexpr int kMemLevel = 8;  // zlib's default

}  // namespace

std::optional<ZlibFormat> parseZlibFormat(std::string_view name) {
  if (name == "gzip") return ZlibFormat::kGzip;
  if (name == "deflate") return ZlibFormat::kDeflate;
  if (name == "deflate-raw") return ZlibFormat::kDeflateRaw;
  return std::nullopt;
}

ZlibStream::ZlibStream(ZlibFormat format, ZlibDirection direction)
    : format_(format), direction_(direction) {}

std::unique_ptr<ZlibStream> ZlibStream::create(ZlibFormat format, ZlibDirection direction) {
  std::unique_ptr<ZlibStream> stream(new ZlibStream(format, direction));
  int ret = direction == ZlibDirection::kCompress
                ? deflateInit2(&stream->stream_, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
                               windowBits(format), kMemLevel, Z_DEFAULT_STRATEGY)
                : inflateInit2(&stream->stream_, windowBits(format));
  if (ret != Z_OK) {
    // The destructor must not call deflateEnd/inflateEnd on a stream zlib did not initialise.
    stream->failed_ = true;
    stream->stream_.state = nullptr;
    return nullptr;
  }
  return stream;
}

ZlibStream::~ZlibStream() {
  if (stream_.state == nullptr) return;
  if (direction_ == ZlibDirection::kCompress) {
    deflateEnd(&stream_);
  } else {
    inflateEnd(&stream_);
  }
}

ZlibStep ZlibStream::step(std::span<const uint8_t> input, std::span<uint8_t> output, bool finish) {
  ZlibStep result;
  if (failed_) {
    result.error = "the stream has already failed";
    return result;
  }
  if (ended_) {
    if (!input.empty() && direction_ == ZlibDirection::kDecompress) {
      failed_ = true;
      result.error = "data after the end of the compressed stream";
    }
    return result;
  }
  const size_t pieceSize = std::min(input.size(), kMaxStepInput);
  const size_t outputSize = std::min<size_t>(output.size(), UINT_MAX);
  // zlib takes non-const input for historical reasons; it never writes through next_in.
  stream_.next_in = const_cast<Bytef*>(input.data());
  stream_.avail_in = static_cast<uInt>(pieceSize);
  stream_.next_out = output.data();
  stream_.avail_out = static_cast<uInt>(outputSize);
  const bool lastPiece = finish && pieceSize == input.size();

  int ret = direction_ == ZlibDirection::kCompress
                ? deflate(&stream_, lastPiece ? Z_FINISH : Z_NO_FLUSH)
                : inflate(&stream_, Z_NO_FLUSH);
  result.consumed = pieceSize - stream_.avail_in;
  result.produced = outputSize - stream_.avail_out;
  const bool outputFull = stream_.avail_out == 0;
  const bool inputLeft = result.consumed < input.size();
  stream_.next_in = nullptr;
  stream_.next_out = nullptr;

  switch (ret) {
    case Z_STREAM_END:
      ended_ = true;
      if (direction_ == ZlibDirection::kDecompress && inputLeft) {
        failed_ = true;
        result.error = "data after the end of the compressed stream";
      }
      return result;
    case Z_OK:
    case Z_BUF_ERROR:  // no progress was possible: the input piece is used up
      if (direction_ == ZlibDirection::kCompress) {
        result.more = lastPiece || outputFull || inputLeft;
      } else {
        result.more = outputFull || inputLeft;
        if (!result.more && finish) {
          failed_ = true;
          result.error = "the compressed stream is truncated";
        }
      }
      return result;
    case Z_NEED_DICT:
      failed_ = true;
      result.error = "the compressed stream needs a preset dictionary";
      return result;
    case Z_MEM_ERROR:
      failed_ = true;
      result.error = "out of memory";
      return result;
    default:  // Z_DATA_ERROR, Z_STREAM_ERROR
      failed_ = true;
      result.error = std::string("the compressed data is corrupt") +
                     (stream_.msg != nullptr ? std::string(": ") + stream_.msg : std::string());
      return result;
  }
}

}  // namespace isolated::worker
