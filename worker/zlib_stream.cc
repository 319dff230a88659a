// zlib streaming for CompressionStream / DecompressionStream.
#include "worker/zlib_stream.h"

#include <climits>

namespace isolated::worker {

namespace {

constexpr size_t kChunk = 16 * 1024;

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

}  // namespace

std::optional<ZlibFormat> parseZlibFormat(std::string_view name) {
  if (name == "gzip") return ZlibFormat::kGzip;
  if (name == "deflate") return ZlibFormat::kDeflate;
  if (name == "deflate-raw") return ZlibFormat::kDeflateRaw;
  return std::nullopt;
}

std::unique_ptr<ZlibStream> ZlibStream::create(ZlibFormat format, Mode mode) {
  std::unique_ptr<ZlibStream> stream(new ZlibStream(mode));
  int rc = mode == Mode::kCompress ? deflateInit2(&stream->z_, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
                                                  windowBits(format), 8, Z_DEFAULT_STRATEGY)
                                   : inflateInit2(&stream->z_, windowBits(format));
  if (rc != Z_OK) return nullptr;
  stream->open_ = true;
  return stream;
}

ZlibStream::~ZlibStream() {
  close();
}

void ZlibStream::close() {
  if (!open_) return;
  open_ = false;
  if (mode_ == Mode::kCompress) {
    deflateEnd(&z_);
  } else {
    inflateEnd(&z_);
  }
}

std::optional<std::string> ZlibStream::write(std::span<const uint8_t> input, bool finish,
                                             std::vector<uint8_t>& out) {
  auto fail = [&](std::string message) -> std::optional<std::string> {
    close();
    return message;
  };
  if (!open_) return std::string("the stream is closed");
  if (ended_ && !input.empty()) {
    return fail("junk found after the end of the compressed data");
  }
  // zlib counts in uInt; feed larger inputs in pieces.
  size_t offset = 0;
  const size_t startSize = out.size();
  for (;;) {
    size_t piece = std::min<size_t>(input.size() - offset, UINT_MAX);
    z_.next_in = const_cast<Bytef*>(input.data() + offset);
    z_.avail_in = static_cast<uInt>(piece);
    const bool lastPiece = offset + piece == input.size();
    for (;;) {
      size_t before = out.size();
      if (before - startSize >= kMaxOutputPerWrite) {
        return fail("the output of one chunk exceeds " + std::to_string(kMaxOutputPerWrite >> 20) +
                    " MB");
      }
      out.resize(before + kChunk);
      z_.next_out = out.data() + before;
      z_.avail_out = static_cast<uInt>(kChunk);
      int rc;
      if (mode_ == Mode::kCompress) {
        rc = deflate(&z_, finish && lastPiece ? Z_FINISH : Z_NO_FLUSH);
      } else {
        rc = ended_ ? Z_STREAM_END : inflate(&z_, Z_NO_FLUSH);
      }
      out.resize(before + (kChunk - z_.avail_out));
      if (rc == Z_STREAM_END) {
        if (mode_ == Mode::kCompress) {
          close();
          return std::nullopt;
        }
        ended_ = true;
        if (z_.avail_in > 0 || !lastPiece) {
          return fail("junk found after the end of the compressed data");
        }
        break;
      }
      if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT) {
        return fail(std::string("the compressed data is invalid") +
                    (z_.msg != nullptr ? std::string(": ") + z_.msg : std::string()));
      }
      if (rc == Z_MEM_ERROR) return fail("zlib ran out of memory");
      if (rc == Z_STREAM_ERROR) return fail("zlib stream error");
      // Z_OK or Z_BUF_ERROR: continue while zlib has input to eat or output to give.
      if (z_.avail_in == 0 && z_.avail_out != 0) break;
      if (rc == Z_BUF_ERROR && z_.avail_out != 0) break;
    }
    offset += piece;
    if (offset >= input.size()) break;
  }
  if (finish && mode_ == Mode::kDecompress) {
    if (!ended_) return fail("the compressed data ended before the end of its stream");
    close();
  }
  return std::nullopt;
}

}  // namespace isolated::worker
