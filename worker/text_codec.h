// Byte-level text codecs behind the web globals, free of V8 so they can be reasoned about (and
// tested) alone: the WHATWG UTF-8 decoder, UTF-16 to UTF-8 encoding into a bounded buffer, and
// forgiving-base64 (https://infra.spec.whatwg.org/#forgiving-base64).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace isolated::worker {

struct Utf8DecodeResult {
  bool ok = true;      // false only in fatal mode, on the first invalid sequence
  size_t pending = 0;  // with `stream`: trailing bytes of an incomplete sequence, not decoded
};

// Decodes `bytes` per the WHATWG UTF-8 decoder, appending UTF-16 code units to `out`. Invalid
// sequences become U+FFFD (one per maximal subpart), or stop decoding when `fatal`. With
// `stream`, an incomplete sequence at the end is left undecoded and reported in `pending` so
// the caller can prepend it to the next chunk; without it, it is an error like any other.
Utf8DecodeResult decodeUtf8(std::basic_string_view<uint8_t> bytes, bool fatal, bool stream,
                            std::u16string& out);

struct Utf8EncodeResult {
  size_t read = 0;     // UTF-16 code units consumed
  size_t written = 0;  // bytes written
};

// Encodes as much of `text` as fits in `capacity` bytes without splitting a code point; lone
// surrogates become U+FFFD (the USVString conversion).
Utf8EncodeResult encodeUtf8Into(std::u16string_view text, uint8_t* dest, size_t capacity);

std::string base64Encode(std::basic_string_view<uint8_t> bytes);

// Forgiving-base64 decode of UTF-16 input; nullopt when it is not valid base64.
std::optional<std::string> forgivingBase64Decode(std::u16string_view text);

}  // namespace isolated::worker
